/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Everything the BPF datapath and userspace share: map keys and values,
 * limits, flags and pin names. Only fixed-width UAPI types; includes nothing,
 * so the BPF side and userspace compile the same definitions.
 *
 * Addresses are always 16 bytes: IPv4 is stored in its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d), so one key type, one map and one code path serve IPv4,
 * IPv6 and IPv4-mapped destinations on dual-stack sockets.
 */
#ifndef SOCKLB_H
#define SOCKLB_H

/*
 * Layout version of the maps below. Map names carry it as a suffix so that a
 * datapath with a different layout creates its own maps beside the old ones.
 */
#define SOCKLB_ABI_VERSION 1

/* Map names (also their pin names under the bpffs root). At most 15 chars. */
#define SOCKLB_MAP_SERVICES "socklb_svc_v1"
#define SOCKLB_MAP_BACKENDS "socklb_be_v1"
#define SOCKLB_MAP_AFFINITY "socklb_aff_v1"
#define SOCKLB_MAP_STATS "socklb_stat_v1"
#define SOCKLB_MAP_SOCKETS "socklb_sock_v1"
#define SOCKLB_MAP_NAMESPACES "socklb_ns_v1"
#define SOCKLB_MAP_TRACE_CTL "socklb_trctl_v1"
#define SOCKLB_MAP_TRACE "socklb_trace_v1"

/* Defaults for map sizes; userspace may choose others when it creates them. */
#ifndef SOCKLB_DEFAULT_MAX_SERVICES
#define SOCKLB_DEFAULT_MAX_SERVICES 65536
#endif
#ifndef SOCKLB_DEFAULT_MAX_BACKENDS
#define SOCKLB_DEFAULT_MAX_BACKENDS 262144
#endif
#ifndef SOCKLB_DEFAULT_MAX_AFFINITY
#define SOCKLB_DEFAULT_MAX_AFFINITY 65536
#endif
#define SOCKLB_MAX_NAMESPACES 4096

/* Unconnected-UDP peers remembered per socket (for recvmsg reverse translation). */
#define SOCKLB_SOCK_PEERS 6

/* Kubernetes namespace names are DNS labels: at most 63 characters. */
#define SOCKLB_NS_NAME_LEN 64

#define SOCKLB_PROTO_TCP 6
#define SOCKLB_PROTO_UDP 17

/* An address and port as the datapath handles them (port in network order). */
struct socklb_sockaddr {
	__be32 addr[4];
	__be16 port;
	__u16 pad;
};

/* A frontend: VIP (or node IP, external IP, LB IP), port and protocol. */
struct socklb_svc_key {
	__be32 addr[4];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

/* flags in struct socklb_svc */
#define SOCKLB_SVC_F_AFFINITY 0x1

struct socklb_svc {
	__u32 id; /* index into the stats map; names the backend slots */
	__u32 count; /* backends in slots [0, count) */
	__u32 affinity_timeout; /* seconds; 0 = no session affinity */
	__u32 flags;
};

struct socklb_backend_key {
	__u32 svc_id;
	__u32 slot;
};

struct socklb_backend {
	__be32 addr[4];
	__be16 port;
	__u16 pad;
};

/* sessionAffinity ClientIP: one entry per (client pod netns, service). */
struct socklb_affinity_key {
	__u64 netns_cookie;
	__u32 svc_id;
	__u32 pad;
};

struct socklb_affinity {
	struct socklb_backend backend;
	__u32 slot;
	__u32 pad;
	__u64 last_used_ns;
};

/* Per-service counters, per CPU; index = struct socklb_svc.id. */
struct socklb_stats {
	__u64 translated; /* connects and datagrams sent to a backend */
	__u64 no_backend; /* refused: the service had no backend */
};

/* What the datapath remembers about one translation, per socket. */
struct socklb_peer {
	__be32 vip[4];
	__be32 backend[4];
	__be16 vip_port;
	__be16 backend_port;
	__u32 svc_id;
	__u32 slot; /* where the backend was found, to re-validate cheaply */
	__u32 seq; /* for least-recently-used replacement; 0 = unused entry */
};

/*
 * Socket local storage: lives and dies with the socket, so it can never be
 * evicted under load nor leak. `connected` serves getpeername, recvmsg on a
 * connected UDP socket and socket termination; `peers` serves unconnected
 * UDP sockets that send to several VIPs.
 */
struct socklb_sock {
	struct socklb_peer connected;
	struct socklb_peer peers[SOCKLB_SOCK_PEERS];
	__u32 seq;
	__u32 pad;
};

/*
 * Key of the namespace opt-in map: the NUL-padded name of a Namespace
 * annotated socklb.io/enabled "true" or "false"; the value (__u32) says which.
 * "false" is 0 so that a reader that takes any non-zero value for opted in
 * (the only value before "false" was published) stays right.
 */
struct socklb_ns_key {
	char name[SOCKLB_NS_NAME_LEN];
};

#define SOCKLB_NS_OPTED_OUT 0
#define SOCKLB_NS_OPTED_IN 1

/* ---- socket termination (term.bpf.c and bpf/lib/terminate.c) ---------------- */

/* Which sockets a target terminates: struct socklb_term_target.protocols. */
#define SOCKLB_TERM_UDP 0x1
#define SOCKLB_TERM_TCP 0x2

/* Targets per batch (the size of the doomed map); longer lists take several batches. */
#define SOCKLB_TERM_MAX_TARGETS 4096

/*
 * The "doomed" map, filled by userspace for one run: a socket is destroyed when
 * its translation record names a key present here, for its protocol.
 */
struct socklb_term_key {
	__be32 backend[4]; /* IPv4 as ::ffff:a.b.c.d, as in struct socklb_peer */
	__u32 svc_id;
	__be16 backend_port;
	__u16 pad;
};

struct socklb_term_verdict {
	__u32 index; /* the target's position in the caller's list: reported per destroyed socket */
	__u32 protocols; /* SOCKLB_TERM_* */
};

/* ---- tracing (bpf/lib/trace.h, `socklb-syncd trace`) ------------------------- */

/*
 * What the datapath did with one connect, one datagram or one reverse
 * translation: the verdicts of lb.bpf.h and of the trace events.
 */
#define SOCKLB_VERDICT_TRANSLATED 1 /* a backend chosen now, uniformly */
#define SOCKLB_VERDICT_REFUSED 2 /* the service has no usable endpoint: the connect or send fails */
#define SOCKLB_VERDICT_AFFINITY 3 /* translated to the backend the client pod's ClientIP affinity names */
#define SOCKLB_VERDICT_STICKY 4 /* an unconnected UDP socket keeps the backend it has for this VIP */
#define SOCKLB_VERDICT_REVERSE 5 /* recvmsg/getpeername: the backend shown to the app as the VIP */

/* The hook that made an event. */
#define SOCKLB_TRACE_CONNECT 1
#define SOCKLB_TRACE_SENDMSG 2
#define SOCKLB_TRACE_RECVMSG 3
#define SOCKLB_TRACE_GETPEERNAME 4

/* The ring buffer's size in bytes (a power of 2, pages): some 18,000 events. */
#define SOCKLB_TRACE_RING_BYTES (1U << 20)

/*
 * The single value of the trace control map. Programs emit events only while
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC) is below until_ns: a tracer keeps
 * pushing it a few seconds ahead, so tracing stops by itself when the tracer
 * dies. 0 (a tracer that exited, or none ever ran) costs one load.
 */
struct socklb_trace_ctl {
	__u64 until_ns;
	__u64 lost; /* events dropped because the ring buffer was full */
};

/* The length of a task's name (the kernel's TASK_COMM_LEN), NUL included. */
#define SOCKLB_COMM_LEN 16

/*
 * One event in the ring buffer. Addresses as in struct socklb_peer. Fields
 * are only ever appended: a reader takes a shorter record (an older
 * program's) with the missing fields zero, and the start of a longer one.
 */
struct socklb_trace_event {
	__u64 time_ns; /* bpf_ktime_get_ns() */
	__u64 cgroup_id; /* cgroup v2 id of the task: the pod's cgroup or one of its containers' */
	__be32 vip[4];
	__be32 backend[4]; /* zero when refused */
	__be16 vip_port;
	__be16 backend_port;
	__u8 proto; /* SOCKLB_PROTO_* */
	__u8 verdict; /* SOCKLB_VERDICT_* */
	__u8 hook; /* SOCKLB_TRACE_* */
	__u8 pad;
	/* the process that made the call (its thread group id as the node sees it); 0 and "": unknown */
	__u32 pid;
	__u32 pad2;
	char comm[SOCKLB_COMM_LEN];
};

/* The size of the first events, without the process: what every reader can decode. */
#define SOCKLB_TRACE_EVENT_V1_SIZE 56

#endif /* SOCKLB_H */
