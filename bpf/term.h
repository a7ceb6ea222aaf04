/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the socket termination iterators (term.bpf.c) print for userspace
 * (bpf/lib/term_bpf.c), besides the shared definitions of socklb.h. Apart
 * from socklb.h so that the datapath object, which does not use it, stays the
 * same build. Fixed-width UAPI types only.
 */
#ifndef SOCKLB_TERM_H
#define SOCKLB_TERM_H

#include "socklb.h"

/* struct socklb_term_sock.index when the finder cannot tell the target (the tasks finder). */
#define SOCKLB_TERM_NO_INDEX 0xffffffffU

/*
 * A socket as the iterators print it (bpf_seq_write): its network namespace
 * and protocol for the finders; for a socket whose record dooms it, also the
 * target and the socket's exact identity for sock_diag's SOCK_DESTROY (the
 * fields of struct inet_diag_sockid).
 */
struct socklb_term_sock {
	__u32 netns; /* inode of its network namespace */
	__u32 index; /* the target (struct socklb_term_verdict.index), or SOCKLB_TERM_NO_INDEX */
	__u32 protocol; /* SOCKLB_TERM_UDP or SOCKLB_TERM_TCP */
	__u32 family; /* AF_INET or AF_INET6; 0 when only netns and protocol are known */
	__be32 src[4]; /* local address; IPv4 in src[0] */
	__be32 dst[4]; /* peer address; IPv4 in dst[0] */
	__be16 sport;
	__be16 dport;
	__u32 ifindex; /* the device it is bound to, 0 for none */
	__u64 cookie; /* the socket's cookie (SO_COOKIE) */
};

#endif /* SOCKLB_TERM_H */
