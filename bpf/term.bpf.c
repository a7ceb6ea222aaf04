// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket termination. A socket is doomed when the translation record the
 * datapath keeps for it (socklb_sock_v1) says it connected through a VIP to a
 * backend userspace listed in term_doomed, and it is still connected there
 * (doomed() below). So a socket connected to a pod IP directly, an
 * unconnected UDP socket, or a socket re-connected elsewhere since, is never
 * touched.
 *
 * TCP and UDP socket iterators walk one network namespace, the whole (shared)
 * hash table each time. So a run first finds the namespaces worth walking,
 * then destroys in each (userspace loads only the programs of its method:
 * each needs its own kernel facility):
 *   socklb_term_records  find: walks the socket records of every namespace
 *                        and prints each doomed socket, with its namespace
 *                        and identity (exact);
 *   socklb_term_tasks    find: walks every process's open files and prints
 *                        the namespace of each socket whose peer is a removed
 *                        backend (a superset: the record cannot be read from
 *                        a file's socket);
 *   socklb_term_tcp/_udp destroy in the namespace with bpf_sock_destroy
 *                        (Linux >= 6.5), printing what it did;
 *   socklb_ids_tcp/_udp  print the doomed sockets of the namespace, for
 *                        userspace to destroy with sock_diag's SOCK_DESTROY
 *                        on older kernels.
 * bpf_sock_destroy is a weak reference, so an object that loads only the
 * other programs loads on a kernel without it.
 *
 * UAPI headers only: the few kernel structs read here are declared below with
 * preserve_access_index, and libbpf relocates their fields against the
 * running kernel's BTF (it matches names through anonymous unions).
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "term.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_CLOSE 7

struct seq_file;
struct tcp_sock;
struct udp_sock;
struct file;

struct in6_addr {
	union {
		__be32 u6_addr32[4];
	} in6_u;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	unsigned char skc_state;
	int skc_bound_dev_if;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_sk_storage_map {
	struct bpf_iter_meta *meta;
	struct sock *sk;
	void *value;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct file *file;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym __weak;

/*
 * The datapath's socket records: userspace points this at the map pinned
 * under the bpffs root before loading (bpf_map__reuse_fd); never created here
 * except by a probe on a node without the pinned maps.
 * Its ABI-versioned name is what guarantees the value layout. Declared here
 * rather than taken from maps.bpf.h, whose other maps this object would then
 * create and pin by name.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct socklb_sock);
} socklb_sock_v1 SEC(".maps");

/* The backends removed in this run; private to this object. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_TERM_MAX_TARGETS);
	__type(key, struct socklb_term_key);
	__type(value, struct socklb_term_verdict);
} term_doomed SEC(".maps");

/* The same backends by address and port alone, for the tasks finder: SOCKLB_TERM_* of any target there. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_TERM_MAX_TARGETS);
	__type(key, struct socklb_sockaddr);
	__type(value, __u32);
} term_peers SEC(".maps");

/* The socket's current peer in the record's form (IPv4 as ::ffff:a.b.c.d). */
static __always_inline bool sock_peer(const struct sock_common *skc, __be32 *addr)
{
	switch (skc->skc_family) {
	case AF_INET:
		addr[0] = 0;
		addr[1] = 0;
		addr[2] = bpf_htonl(0xffff);
		addr[3] = skc->skc_daddr;
		return true;
	case AF_INET6:
		addr[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		addr[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		addr[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		addr[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
		return true;
	default:
		return false;
	}
}

/* SOCKLB_TERM_* for an IP protocol number; 0 for the others. */
static __always_inline __u32 term_proto(__u16 protocol)
{
	switch (protocol) {
	case SOCKLB_PROTO_TCP:
		return SOCKLB_TERM_TCP;
	case SOCKLB_PROTO_UDP:
		return SOCKLB_TERM_UDP;
	default:
		return 0;
	}
}

/*
 * The doomed entry naming this socket for this protocol (a SOCKLB_TERM_* bit),
 * or NULL: its record says it connected through a VIP, and its current peer
 * is still the record's backend (not disconnected, not re-connected
 * elsewhere, not closed: a destroyed TCP socket keeps its peer until the
 * application closes it).
 */
static __always_inline struct socklb_term_verdict *doomed(const struct sock_common *skc, const struct socklb_sock *st,
							  __u32 proto)
{
	struct socklb_term_key key = {};
	struct socklb_term_verdict *v;
	__be32 peer[4];

	if (!st->connected.seq)
		return NULL;
	if (skc->skc_state == TCP_CLOSE || !sock_peer(skc, peer) || skc->skc_dport != st->connected.backend_port)
		return NULL;
	if (((peer[0] ^ st->connected.backend[0]) | (peer[1] ^ st->connected.backend[1]) |
	     (peer[2] ^ st->connected.backend[2]) | (peer[3] ^ st->connected.backend[3])) != 0)
		return NULL;

	__builtin_memcpy(key.backend, peer, sizeof(key.backend));
	key.svc_id = st->connected.svc_id;
	key.backend_port = st->connected.backend_port;
	v = bpf_map_lookup_elem(&term_doomed, &key);
	if (!v || !(v->protocols & proto))
		return NULL;
	return v;
}

/* Print a doomed socket: its namespace, target and identity (the fields SOCK_DESTROY looks it up by). */
static __always_inline void print_sock(struct seq_file *seq, struct sock_common *skc, __u32 index, __u32 proto)
{
	struct socklb_term_sock s = {};

	s.netns = skc->skc_net.net->ns.inum;
	s.index = index;
	s.protocol = proto;
	s.family = skc->skc_family;
	if (s.family == AF_INET6) {
		__builtin_memcpy(s.src, skc->skc_v6_rcv_saddr.in6_u.u6_addr32, sizeof(s.src));
		__builtin_memcpy(s.dst, skc->skc_v6_daddr.in6_u.u6_addr32, sizeof(s.dst));
	} else {
		s.src[0] = skc->skc_rcv_saddr;
		s.dst[0] = skc->skc_daddr;
	}
	s.sport = bpf_htons(skc->skc_num);
	s.dport = skc->skc_dport;
	s.ifindex = skc->skc_bound_dev_if;
	s.cookie = bpf_get_socket_cookie(skc);
	bpf_seq_write(seq, &s, sizeof(s));
}

/* find: every doomed socket, whatever its namespace. */
SEC("iter/bpf_sk_storage_map")
int socklb_term_records(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct socklb_sock *st = ctx->value;
	struct socklb_term_verdict *v;
	struct sock *sk = ctx->sk;
	__u32 proto;

	if (!sk || !st)
		return 0;
	proto = term_proto(sk->sk_protocol);
	v = proto ? doomed(&sk->__sk_common, st, proto) : NULL;
	if (v)
		print_sock(ctx->meta->seq, &sk->__sk_common, v->index, proto);
	return 0;
}

/*
 * find: the namespace of every open socket whose peer is a removed backend,
 * through a VIP or not. The socket reached from a file is not a trusted
 * pointer here, so its record cannot be read (plain field reads are
 * allowed): the namespace's destroying pass applies the record check.
 */
SEC("iter/task_file")
int socklb_term_tasks(struct bpf_iter__task_file *ctx)
{
	struct socklb_sockaddr peer = {};
	struct socklb_term_sock s = {};
	struct file *file = ctx->file;
	struct socket *sock;
	struct sock *sk;
	__u32 proto, *protocols;

	if (!file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk)
		return 0;
	proto = term_proto(sk->sk_protocol);
	if (!proto || sk->__sk_common.skc_state == TCP_CLOSE || !sock_peer(&sk->__sk_common, peer.addr))
		return 0;
	peer.port = sk->__sk_common.skc_dport;
	protocols = bpf_map_lookup_elem(&term_peers, &peer);
	if (!protocols || !(*protocols & proto))
		return 0;
	s.netns = sk->__sk_common.skc_net.net->ns.inum;
	s.index = SOCKLB_TERM_NO_INDEX;
	s.protocol = proto;
	bpf_seq_write(ctx->meta->seq, &s, sizeof(s));
	return 0;
}

/*
 * In one namespace, the socket's record if it is doomed. skc and sk are the
 * same socket: skc as a socket, sk as a full socket for the storage.
 */
static __always_inline struct socklb_term_verdict *doomed_here(struct sock_common *skc, void *sk, __u32 proto)
{
	struct socklb_sock *st = bpf_sk_storage_get(&socklb_sock_v1, sk, 0, 0);

	return st ? doomed(skc, st, proto) : NULL;
}

/* destroy: prints "TARGET_INDEX ERR" per doomed socket. */
static __always_inline int destroy(struct seq_file *seq, struct sock_common *skc, void *sk, __u32 proto)
{
	struct socklb_term_verdict *v = doomed_here(skc, sk, proto);

	if (v)
		BPF_SEQ_PRINTF(seq, "%u %d\n", v->index, bpf_sock_destroy(skc));
	return 0;
}

/* NULL for TIME_WAIT and request sockets: no storage, and they cannot be destroyed. */
static __always_inline struct tcp_sock *full_tcp(struct sock_common *skc)
{
	return skc ? bpf_skc_to_tcp_sock(skc) : NULL;
}

SEC("iter/tcp")
int socklb_term_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp = full_tcp(skc);

	return tp ? destroy(ctx->meta->seq, skc, tp, SOCKLB_TERM_TCP) : 0;
}

SEC("iter/udp")
int socklb_term_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *up = ctx->udp_sk;

	return up ? destroy(ctx->meta->seq, (struct sock_common *)up, up, SOCKLB_TERM_UDP) : 0;
}

/* For SOCK_DESTROY: prints a struct socklb_term_sock per doomed socket. */
static __always_inline int print_doomed(struct seq_file *seq, struct sock_common *skc, void *sk, __u32 proto)
{
	struct socklb_term_verdict *v = doomed_here(skc, sk, proto);

	if (v)
		print_sock(seq, skc, v->index, proto);
	return 0;
}

SEC("iter/tcp")
int socklb_ids_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp = full_tcp(skc);

	return tp ? print_doomed(ctx->meta->seq, skc, tp, SOCKLB_TERM_TCP) : 0;
}

SEC("iter/udp")
int socklb_ids_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *up = ctx->udp_sk;

	return up ? print_doomed(ctx->meta->seq, (struct sock_common *)up, up, SOCKLB_TERM_UDP) : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
