// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket termination. A socket is doomed when the translation record the
 * datapath keeps for it (socklb_sock_v1) says it connected through a VIP to a
 * backend userspace listed in term_doomed, and it is still connected there.
 * So a socket connected to a pod IP directly, an unconnected UDP socket, or a
 * socket re-connected elsewhere since, is never touched.
 *
 * Two steps, because bpf_sock_destroy is allowed only in TCP and UDP socket
 * iterators, and those walk one network namespace, the whole (shared) hash
 * table each time:
 *   socklb_term_find           walks the socket records of every namespace
 *                              and names the namespaces with doomed sockets;
 *   socklb_term_tcp/_udp       run in each of those namespaces and destroy.
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

#include "socklb.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_CLOSE 7

struct seq_file;
struct tcp_sock;
struct udp_sock;

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
	__be16 skc_dport;
	unsigned short skc_family;
	unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
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

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

/*
 * The datapath's socket records: userspace points this at the map pinned
 * under the bpffs root before loading (bpf_map__reuse_fd); never created here.
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

/* The doomed entry naming this socket for this protocol (a SOCKLB_TERM_* bit), or NULL. */
static __always_inline struct socklb_term_verdict *doomed(const struct sock_common *skc, const struct socklb_sock *st,
							  __u32 proto)
{
	struct socklb_term_key key = {};
	struct socklb_term_verdict *v;
	__be32 peer[4];

	if (!st->connected.seq)
		return NULL;
	/*
	 * Still connected where the VIP sent it: not disconnected, not re-connected
	 * elsewhere, not closed (a destroyed TCP socket keeps its peer until the
	 * application closes it).
	 */
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

/* Prints "NETNS_INODE PROTOCOL_BIT" per doomed socket, whatever its namespace. */
SEC("iter/bpf_sk_storage_map")
int socklb_term_find(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct socklb_sock *st = ctx->value;
	struct sock *sk = ctx->sk;
	__u32 proto;

	if (!sk || !st)
		return 0;
	switch (sk->sk_protocol) {
	case SOCKLB_PROTO_TCP:
		proto = SOCKLB_TERM_TCP;
		break;
	case SOCKLB_PROTO_UDP:
		proto = SOCKLB_TERM_UDP;
		break;
	default:
		return 0;
	}
	if (doomed(&sk->__sk_common, st, proto))
		BPF_SEQ_PRINTF(ctx->meta->seq, "%u %u\n", sk->__sk_common.skc_net.net->ns.inum, proto);
	return 0;
}

/*
 * Destroys and prints "TARGET_INDEX ERR" per doomed socket. skc and sk are the
 * same socket: skc as the kfunc wants it, sk as a full socket for the storage.
 */
static __always_inline int term_sock(struct seq_file *seq, struct sock_common *skc, void *sk, __u32 proto)
{
	struct socklb_term_verdict *v;
	struct socklb_sock *st;
	int err;

	st = bpf_sk_storage_get(&socklb_sock_v1, sk, 0, 0);
	if (!st)
		return 0;
	v = doomed(skc, st, proto);
	if (!v)
		return 0;
	err = bpf_sock_destroy(skc);
	BPF_SEQ_PRINTF(seq, "%u %d\n", v->index, err);
	return 0;
}

SEC("iter/tcp")
int socklb_term_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	/* NULL for TIME_WAIT and request sockets: no storage, and they cannot be destroyed. */
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	return term_sock(ctx->meta->seq, skc, tp, SOCKLB_TERM_TCP);
}

SEC("iter/udp")
int socklb_term_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *up = ctx->udp_sk;

	if (!up)
		return 0;
	return term_sock(ctx->meta->seq, (struct sock_common *)up, up, SOCKLB_TERM_UDP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
