// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kernel cannot test-run sock_addr programs, so the translation logic is
 * run from XDP: the "packet" is a struct lb_test_io, and an array map stands
 * in for the socket's local storage.
 */
#include "lb.bpf.h"
#include "test_lb.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct socklb_sock);
} fake_sock SEC(".maps");

SEC("xdp")
int lb_test(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct lb_test_io *io = data;
	struct socklb_sockaddr addr, out = {};
	struct socklb_sock *st = NULL;
	struct socklb_svc *svc, stale;
	__u32 zero = 0;
	bool connected;

	if ((void *)(io + 1) > end)
		return XDP_ABORTED;
	if (io->use_storage)
		st = bpf_map_lookup_elem(&fake_sock, &zero);
	__builtin_memcpy(&addr, &io->in, sizeof(addr));

	switch (io->op) {
	case LB_TEST_CONNECT:
	case LB_TEST_SENDMSG:
		connected = io->op == LB_TEST_CONNECT;
		svc = lb_service_lookup(&addr, io->proto);
		if (svc && io->stale_count) {
			/* The value a program read an instant before the daemon's update. */
			stale = *svc;
			stale.count = io->stale_count;
			svc = &stale;
		}
		io->verdict = svc ? lb_select(svc, &addr, io->proto, io->netns_cookie, st, connected, &out) : LB_PASS;
		__builtin_memcpy(&io->out, &out, sizeof(out));
		break;
	case LB_TEST_RECVMSG:
	case LB_TEST_GETPEERNAME:
		io->verdict = st ? lb_reverse(st, &addr, io->op == LB_TEST_GETPEERNAME) : 0;
		__builtin_memcpy(&io->out, &addr, sizeof(addr));
		break;
	default:
		return XDP_ABORTED;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
