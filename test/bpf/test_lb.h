/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The "packet" the XDP harness reads and writes: one call of the datapath logic. */
#ifndef SOCKLB_TEST_LB_H
#define SOCKLB_TEST_LB_H

enum lb_test_op {
	LB_TEST_CONNECT = 1, /* lb_select for a connect (connected socket) */
	LB_TEST_SENDMSG = 2, /* lb_select for an unconnected datagram */
	LB_TEST_RECVMSG = 3, /* lb_reverse for a reply's source */
	LB_TEST_GETPEERNAME = 4, /* lb_reverse for the connected peer only */
};

struct lb_test_io {
	__u32 op;
	__u32 proto;
	__u64 netns_cookie;
	__u32 use_storage; /* pass the fake socket storage (else NULL) */
	__u32 verdict; /* out: enum lb_verdict, or 1 when lb_reverse rewrote */
	__u32 stale_count; /* nonzero: lb_select sees this count, as if read before the daemon shrank the set */
	__u32 pad;
	struct socklb_sockaddr in;
	struct socklb_sockaddr out;
};

#endif /* SOCKLB_TEST_LB_H */
