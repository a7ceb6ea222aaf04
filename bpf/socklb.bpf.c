// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * socklb datapath: Kubernetes service load balancing at the socket layer.
 * Thin entry points per hook; the logic lives in lb.bpf.h.
 */

#include "lb.bpf.h"
#include "trace.bpf.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

#define ECONNREFUSED 111

/* Set by the loader after probing the running kernel (bpf_set_retval: 5.18+). */
const volatile bool have_set_retval = false;

static __always_inline void ctx_load(const struct bpf_sock_addr *ctx, bool v6, struct socklb_sockaddr *d)
{
	if (v6) {
		d->addr[0] = ctx->user_ip6[0];
		d->addr[1] = ctx->user_ip6[1];
		d->addr[2] = ctx->user_ip6[2];
		d->addr[3] = ctx->user_ip6[3];
	} else {
		d->addr[0] = 0;
		d->addr[1] = 0;
		d->addr[2] = bpf_htonl(0xffff);
		d->addr[3] = ctx->user_ip4;
	}
	d->port = (__be16)ctx->user_port;
}

static __always_inline bool ctx_store(struct bpf_sock_addr *ctx, bool v6, const struct socklb_sockaddr *d)
{
	if (v6) {
		ctx->user_ip6[0] = d->addr[0];
		ctx->user_ip6[1] = d->addr[1];
		ctx->user_ip6[2] = d->addr[2];
		ctx->user_ip6[3] = d->addr[3];
	} else {
		/* An IPv4 socket cannot reach an IPv6 backend. */
		if (!addr_is_v4mapped(d->addr))
			return false;
		ctx->user_ip4 = d->addr[3];
	}
	ctx->user_port = d->port;
	return true;
}

static __always_inline int sys_refuse(void)
{
	/* Fail like kube-proxy's REJECT; older kernels can only say EPERM. */
	if (have_set_retval)
		bpf_set_retval(-ECONNREFUSED);
	return SYS_REJECT;
}

static __always_inline int sock_forward(struct bpf_sock_addr *ctx, bool v6, bool connected)
{
	struct socklb_sock *st = NULL;
	struct socklb_sockaddr vip, be = {};
	enum lb_verdict verdict;
	struct socklb_svc *svc;
	__u64 cookie = 0;
	__u8 proto = ctx->protocol;

	if (proto != SOCKLB_PROTO_TCP && proto != SOCKLB_PROTO_UDP)
		return SYS_PROCEED;

	ctx_load(ctx, v6, &vip);
	svc = lb_service_lookup(&vip, proto);
	if (!svc)
		return SYS_PROCEED;

	if (ctx->sk)
		st = bpf_sk_storage_get(&socklb_sock_v1, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (svc->flags & SOCKLB_SVC_F_AFFINITY)
		cookie = bpf_get_netns_cookie(ctx);

	verdict = lb_select(svc, &vip, proto, cookie, st, connected, &be);
	if (lb_translated(verdict) && !ctx_store(ctx, v6, &be))
		verdict = LB_REFUSE;
	if (!lb_translated(verdict))
		__builtin_memset(&be, 0, sizeof(be));
	trace_emit(connected ? SOCKLB_TRACE_CONNECT : SOCKLB_TRACE_SENDMSG, verdict, proto, &vip, &be);
	return lb_translated(verdict) ? SYS_PROCEED : sys_refuse();
}

static __always_inline int sock_reverse(struct bpf_sock_addr *ctx, bool v6, bool connected_only)
{
	struct socklb_sockaddr addr, backend;
	struct socklb_sock *st;

	if (!ctx->sk)
		return SYS_PROCEED;
	st = bpf_sk_storage_get(&socklb_sock_v1, ctx->sk, 0, 0);
	if (!st)
		return SYS_PROCEED;
	ctx_load(ctx, v6, &addr);
	backend = addr;
	if (lb_reverse(st, &addr, connected_only) && ctx_store(ctx, v6, &addr))
		trace_emit(connected_only ? SOCKLB_TRACE_GETPEERNAME : SOCKLB_TRACE_RECVMSG, SOCKLB_VERDICT_REVERSE,
			   ctx->protocol, &addr, &backend);
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int socklb_connect4(struct bpf_sock_addr *ctx)
{
	return sock_forward(ctx, false, true);
}

SEC("cgroup/connect6")
int socklb_connect6(struct bpf_sock_addr *ctx)
{
	return sock_forward(ctx, true, true);
}

SEC("cgroup/sendmsg4")
int socklb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_forward(ctx, false, false);
}

SEC("cgroup/sendmsg6")
int socklb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_forward(ctx, true, false);
}

SEC("cgroup/recvmsg4")
int socklb_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, false, false);
}

SEC("cgroup/recvmsg6")
int socklb_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, true, false);
}

SEC("cgroup/getpeername4")
int socklb_getpeer4(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, false, true);
}

SEC("cgroup/getpeername6")
int socklb_getpeer6(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, true, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
