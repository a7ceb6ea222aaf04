// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath's translation logic (bpf/lb.bpf.h) run in the kernel through
 * the XDP harness test_lb.bpf.c, with services written by the map library.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lbmap.h"
#include "socklb.h"
#include "test_lb.h"
#include "test_lb.skel.h"

enum { PASS = 0, TRANSLATED = 1, REFUSE = 2, AFFINITY = 3, STICKY = 4 };

struct fixture {
	struct test_lb *skel;
	struct socklb_maps maps;
};

static struct fixture fx;

static int setup(void **state)
{
	struct bpf_map *map;

	(void)state;
	fx.skel = test_lb__open();
	if (!fx.skel)
		return -1;
	/* Private, unpinned copies of the maps. */
	bpf_object__for_each_map(map, fx.skel->obj)
		bpf_map__set_pin_path(map, NULL);
	if (test_lb__load(fx.skel))
		return -1;
	memset(&fx.maps, 0, sizeof(fx.maps));
	fx.maps.services = bpf_map__fd(fx.skel->maps.socklb_svc_v1);
	fx.maps.backends = bpf_map__fd(fx.skel->maps.socklb_be_v1);
	fx.maps.affinity = bpf_map__fd(fx.skel->maps.socklb_aff_v1);
	fx.maps.stats = bpf_map__fd(fx.skel->maps.socklb_stat_v1);
	fx.maps.sockets = -1;
	fx.maps.namespaces = bpf_map__fd(fx.skel->maps.socklb_ns_v1);
	fx.maps.max_services = bpf_map__max_entries(fx.skel->maps.socklb_svc_v1);
	fx.maps.max_backends = bpf_map__max_entries(fx.skel->maps.socklb_be_v1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(fx.maps.id_used);
	test_lb__destroy(fx.skel);
	return 0;
}

static void reset_socket(void)
{
	struct socklb_sock zero = {};
	__u32 key = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.fake_sock), &key, &zero, BPF_ANY), 0);
}

static struct socklb_sockaddr sa(const char *addr, __u16 port)
{
	struct socklb_sockaddr s = {};

	assert_int_equal(socklb_addr_parse(addr, s.addr), 0);
	s.port = htons(port);
	return s;
}

static struct socklb_endpoint ep(const char *addr, __u16 port)
{
	struct socklb_endpoint e = {};

	assert_int_equal(socklb_addr_parse(addr, e.addr), 0);
	e.port = port;
	return e;
}

static struct socklb_frontend fe(const char *addr, __u16 port, __u8 proto)
{
	struct socklb_frontend f = {};

	assert_int_equal(socklb_addr_parse(addr, f.addr), 0);
	f.port = port;
	f.proto = proto;
	return f;
}

/* Run the harness once; returns the verdict and the output address. */
static __u32 run_io(struct lb_test_io io, struct socklb_sockaddr *out)
{
	struct lb_test_io res = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &io, .data_size_in = sizeof(io), .data_out = &res,
		    .data_size_out = sizeof(res), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(fx.skel->progs.lb_test), &opts), 0);
	assert_int_equal(opts.retval, XDP_PASS);
	if (out)
		*out = res.out;
	return res.verdict;
}

static __u32 run(__u32 op, __u8 proto, struct socklb_sockaddr in, __u64 cookie, bool storage,
		 struct socklb_sockaddr *out)
{
	struct lb_test_io io = { .op = op, .proto = proto, .netns_cookie = cookie, .use_storage = storage, .in = in };

	return run_io(io, out);
}

static bool same(struct socklb_sockaddr a, struct socklb_sockaddr b)
{
	return a.port == b.port && memcmp(a.addr, b.addr, sizeof(a.addr)) == 0;
}

static int backend_index(struct socklb_sockaddr got, const struct socklb_endpoint *eps, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (got.port == htons(eps[i].port) && memcmp(got.addr, eps[i].addr, 16) == 0)
			return i;
	return -1;
}

static void test_not_a_service_passes(void **state)
{
	struct socklb_frontend f = fe("10.96.0.10", 80, SOCKLB_PROTO_TCP);
	struct socklb_endpoint b[] = { ep("10.244.0.11", 8080) };

	(void)state;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 1, 0), 0);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.11", 80), 1, false, NULL), PASS);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.10", 81), 1, false, NULL), PASS);
	/* same VIP and port, other protocol */
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_UDP, sa("10.96.0.10", 80), 1, false, NULL), PASS);
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.10", 80), 1, false, NULL), PASS);
}

static void test_uniform_choice(void **state)
{
	struct socklb_frontend f = fe("10.96.0.10", 80, SOCKLB_PROTO_TCP);
	struct socklb_endpoint b[] = { ep("10.244.0.11", 8080), ep("10.244.0.12", 8080), ep("10.244.0.13", 8081) };
	struct socklb_sockaddr out;
	int counts[3] = {}, i, idx;

	(void)state;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 0), 0);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.10", 80), 1, false, &out),
				 TRANSLATED);
		idx = backend_index(out, b, 3);
		assert_true(idx >= 0);
		counts[idx]++;
	}
	/* 1000 expected each; 850 is > 6 standard deviations below */
	for (i = 0; i < 3; i++)
		assert_true(counts[i] > 850);
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

static void test_no_backend_refuses_and_counts(void **state)
{
	struct socklb_frontend f = fe("fd00:96::30", 53, SOCKLB_PROTO_UDP);
	struct socklb_stats st;
	struct socklb_endpoint *cur;
	struct socklb_svc svc;
	__u32 n;

	(void)state;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, NULL, 0, 0), 0);
	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("fd00:96::30", 53), 1, true, NULL), REFUSE);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_UDP, sa("fd00:96::30", 53), 1, false, NULL), REFUSE);
	assert_int_equal(socklb_service_get(&fx.maps, &f, &svc, &cur, &n), 0);
	free(cur);
	assert_int_equal(socklb_service_stats(&fx.maps, svc.id, &st), 0);
	assert_int_equal(st.no_backend, 2);
	assert_int_equal(st.translated, 0);
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

static void test_affinity_per_client_and_never_a_removed_backend(void **state)
{
	struct socklb_frontend f = fe("10.96.0.20", 80, SOCKLB_PROTO_TCP);
	struct socklb_endpoint b[] = { ep("10.244.0.11", 80), ep("10.244.0.12", 80), ep("10.244.0.13", 80) };
	struct socklb_endpoint rest[2];
	struct socklb_sockaddr first, out;
	int i, j, k, distinct_clients = 0, idx;

	(void)state;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 60), 0);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.20", 80), 42, false, &first), TRANSLATED);
	for (i = 0; i < 50; i++) {
		assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.20", 80), 42, false, &out),
				 AFFINITY);
		assert_true(same(out, first));
	}
	/* other clients (netns cookies) spread */
	for (i = 100; i < 130; i++) {
		run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.20", 80), (__u64)i, false, &out);
		distinct_clients += !same(out, first);
	}
	assert_true(distinct_clients > 0);

	/* remove client 42's backend: it moves, and never back to the removed one */
	idx = backend_index(first, b, 3);
	for (j = 0, k = 0; j < 3; j++)
		if (j != idx)
			rest[k++] = b[j];
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, rest, 2, 60), 0);
	/* the first connect chooses again, the next ones follow the new affinity entry */
	for (i = 0; i < 50; i++) {
		assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("10.96.0.20", 80), 42, false, &out),
				 i ? AFFINITY : TRANSLATED);
		assert_false(same(out, first));
		assert_true(backend_index(out, rest, 2) >= 0);
	}
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

static void test_unconnected_udp_keeps_backend_until_it_leaves(void **state)
{
	struct socklb_frontend f = fe("10.96.0.53", 53, SOCKLB_PROTO_UDP);
	struct socklb_endpoint b[] = { ep("10.244.0.21", 5353), ep("10.244.0.22", 5353), ep("10.244.0.23", 5353) };
	struct socklb_endpoint rest[2];
	struct socklb_sockaddr first, out;
	int i, j, k, idx;

	(void)state;
	reset_socket();
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 0), 0);
	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.53", 53), 1, true, &first), TRANSLATED);
	for (i = 0; i < 30; i++) {
		assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.53", 53), 1, true, &out), STICKY);
		assert_true(same(out, first));
	}
	idx = backend_index(first, b, 3);
	for (j = 0, k = 0; j < 3; j++)
		if (j != idx)
			rest[k++] = b[j];
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, rest, 2, 0), 0);
	for (i = 0; i < 30; i++) {
		assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.53", 53), 1, true, &out),
				 i ? STICKY : TRANSLATED);
		assert_true(backend_index(out, rest, 2) >= 0);
	}
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

/* The affinity entries of the map, and whether one has a zero key (netns cookie 0). */
static int affinity_entries(bool *zero_key)
{
	struct socklb_affinity_key key, next;
	void *prev = NULL;
	int n = 0;

	*zero_key = false;
	while (bpf_map_get_next_key(fx.maps.affinity, prev, &next) == 0) {
		n++;
		if (next.netns_cookie == 0)
			*zero_key = true;
		key = next;
		prev = &key;
	}
	return n;
}

static void clear_affinity(void)
{
	struct socklb_affinity_key key;

	while (bpf_map_get_next_key(fx.maps.affinity, NULL, &key) == 0)
		assert_int_equal(bpf_map_delete_elem(fx.maps.affinity, &key), 0);
}

/*
 * Unconnected UDP to a ClientIP-affinity service: the first datagram of a
 * socket chooses through the client's affinity entry (and refreshes it); the
 * next ones keep the socket's backend like a conntrack hit and write no
 * affinity entry at all (none with a zeroed key, the client's untouched).
 */
static void test_unconnected_udp_with_affinity(void **state)
{
	struct socklb_frontend f = fe("10.96.0.54", 53, SOCKLB_PROTO_UDP);
	struct socklb_endpoint b[] = { ep("10.244.0.21", 5353), ep("10.244.0.22", 5353), ep("10.244.0.23", 5353) };
	struct socklb_affinity_key akey = { .netns_cookie = 77 };
	struct socklb_affinity a1, a2;
	struct socklb_sockaddr first, out;
	struct socklb_endpoint *cur;
	struct socklb_svc svc;
	bool zero_key;
	__u32 n;
	int i;

	(void)state;
	clear_affinity();
	reset_socket();
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 60), 0);
	assert_int_equal(socklb_service_get(&fx.maps, &f, &svc, &cur, &n), 0);
	free(cur);
	akey.svc_id = svc.id;

	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.54", 53), 77, true, &first), TRANSLATED);
	assert_int_equal(bpf_map_lookup_elem(fx.maps.affinity, &akey, &a1), 0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.54", 53), 77, true, &out), STICKY);
		assert_true(same(out, first));
	}
	assert_int_equal(affinity_entries(&zero_key), 1);
	assert_false(zero_key);
	assert_int_equal(bpf_map_lookup_elem(fx.maps.affinity, &akey, &a2), 0);
	assert_true(a2.last_used_ns == a1.last_used_ns);

	/* a new socket of the same pod: the affinity entry chooses, and is refreshed */
	reset_socket();
	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.54", 53), 77, true, &out), AFFINITY);
	assert_true(same(out, first));
	assert_int_equal(bpf_map_lookup_elem(fx.maps.affinity, &akey, &a2), 0);
	assert_true(a2.last_used_ns > a1.last_used_ns);
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

static void test_reverse_restores_the_right_vip(void **state)
{
	struct socklb_frontend f1 = fe("10.96.0.1", 53, SOCKLB_PROTO_UDP);
	struct socklb_frontend f2 = fe("10.96.0.2", 5300, SOCKLB_PROTO_UDP);
	struct socklb_endpoint b1[] = { ep("10.244.0.21", 53) };
	struct socklb_endpoint b2[] = { ep("10.244.0.22", 53) };
	struct socklb_sockaddr out;

	(void)state;
	reset_socket();
	assert_int_equal(socklb_service_upsert(&fx.maps, &f1, b1, 1, 0), 0);
	assert_int_equal(socklb_service_upsert(&fx.maps, &f2, b2, 1, 0), 0);
	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.1", 53), 1, true, NULL), TRANSLATED);
	assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa("10.96.0.2", 5300), 1, true, NULL), TRANSLATED);

	assert_int_equal(run(LB_TEST_RECVMSG, 0, sa("10.244.0.22", 53), 1, true, &out), 1);
	assert_true(same(out, sa("10.96.0.2", 5300)));
	assert_int_equal(run(LB_TEST_RECVMSG, 0, sa("10.244.0.21", 53), 1, true, &out), 1);
	assert_true(same(out, sa("10.96.0.1", 53)));
	/* a reply from an address this socket never reached through a VIP is left alone */
	assert_int_equal(run(LB_TEST_RECVMSG, 0, sa("10.244.0.99", 53), 1, true, &out), 0);
	assert_true(same(out, sa("10.244.0.99", 53)));
	/* getpeername only serves the connected peer */
	assert_int_equal(run(LB_TEST_GETPEERNAME, 0, sa("10.244.0.21", 53), 1, true, NULL), 0);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_UDP, sa("10.96.0.1", 53), 1, true, NULL), TRANSLATED);
	assert_int_equal(run(LB_TEST_GETPEERNAME, 0, sa("10.244.0.21", 53), 1, true, &out), 1);
	assert_true(same(out, sa("10.96.0.1", 53)));
	assert_int_equal(socklb_service_delete(&fx.maps, &f1), 0);
	assert_int_equal(socklb_service_delete(&fx.maps, &f2), 0);
}

static void test_peer_table_evicts_least_recently_used(void **state)
{
	struct socklb_endpoint b = ep("10.244.0.50", 53);
	struct socklb_frontend f[SOCKLB_SOCK_PEERS + 1];
	struct socklb_sockaddr out;
	char vip[32];
	int i;

	(void)state;
	reset_socket();
	for (i = 0; i <= SOCKLB_SOCK_PEERS; i++) {
		snprintf(vip, sizeof(vip), "10.96.1.%d", i + 1);
		f[i] = fe(vip, 53, SOCKLB_PROTO_UDP);
		b.port = (__u16)(6000 + i);
		assert_int_equal(socklb_service_upsert(&fx.maps, &f[i], &b, 1, 0), 0);
		assert_int_equal(run(LB_TEST_SENDMSG, SOCKLB_PROTO_UDP, sa(vip, 53), 1, true, NULL), TRANSLATED);
	}
	/* the first VIP was evicted by the last one; the second is still known */
	assert_int_equal(run(LB_TEST_RECVMSG, 0, sa("10.244.0.50", 6000), 1, true, NULL), 0);
	assert_int_equal(run(LB_TEST_RECVMSG, 0, sa("10.244.0.50", 6001), 1, true, &out), 1);
	assert_true(same(out, sa("10.96.1.2", 53)));
	for (i = 0; i <= SOCKLB_SOCK_PEERS; i++)
		assert_int_equal(socklb_service_delete(&fx.maps, &f[i]), 0);
}

static void test_v6_service_and_v4_mapped_key(void **state)
{
	struct socklb_frontend f6 = fe("fd00:96::10", 80, SOCKLB_PROTO_TCP);
	struct socklb_frontend f4 = fe("10.96.0.10", 80, SOCKLB_PROTO_TCP);
	struct socklb_endpoint b6 = ep("fd00:244::11", 8080);
	struct socklb_endpoint b4 = ep("10.244.0.11", 8080);
	struct socklb_sockaddr out;

	(void)state;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f6, &b6, 1, 0), 0);
	assert_int_equal(socklb_service_upsert(&fx.maps, &f4, &b4, 1, 0), 0);
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("fd00:96::10", 80), 1, false, &out), TRANSLATED);
	assert_true(same(out, sa("fd00:244::11", 8080)));
	/* ::ffff:10.96.0.10 is the IPv4 service */
	assert_int_equal(run(LB_TEST_CONNECT, SOCKLB_PROTO_TCP, sa("::ffff:10.96.0.10", 80), 1, false, &out),
			 TRANSLATED);
	assert_true(same(out, sa("10.244.0.11", 8080)));
	assert_int_equal(socklb_service_delete(&fx.maps, &f6), 0);
	assert_int_equal(socklb_service_delete(&fx.maps, &f4), 0);
}

/*
 * A program that read the service's count just before the daemon shrank the
 * set picks slots that are already deleted: it must choose again from the
 * current count, never refuse a service that has backends.
 */
static void test_stale_count_after_shrink_still_translates(void **state)
{
	struct socklb_frontend f = fe("10.96.0.40", 80, SOCKLB_PROTO_TCP);
	struct socklb_endpoint b[] = { ep("10.244.0.11", 80), ep("10.244.0.12", 80), ep("10.244.0.13", 80) };
	struct lb_test_io io = { .op = LB_TEST_CONNECT, .proto = SOCKLB_PROTO_TCP, .netns_cookie = 1 };
	struct socklb_endpoint b6[3], *cur;
	struct socklb_sockaddr out;
	struct socklb_stats st;
	struct socklb_svc svc;
	__u32 n;
	int i;

	(void)state;
	io.in = sa("10.96.0.40", 80);
	io.stale_count = 3;
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 0), 0);
	/* 3 -> 1: slots 1 and 2 are gone; a stale count of 3 names them 2 times in 3 */
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 1, 0), 0);
	for (i = 0; i < 300; i++) {
		assert_int_equal(run_io(io, &out), TRANSLATED);
		assert_int_equal(backend_index(out, b, 1), 0);
	}
	/* the same with session affinity, then for unconnected UDP */
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 3, 60), 0);
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b, 1, 60), 0);
	for (i = 0; i < 300; i++) {
		io.netns_cookie = 100 + i;
		assert_int_equal(run_io(io, &out), TRANSLATED);
		assert_int_equal(backend_index(out, b, 1), 0);
	}
	assert_int_equal(socklb_service_get(&fx.maps, &f, &svc, &cur, &n), 0);
	free(cur);
	assert_int_equal(socklb_service_stats(&fx.maps, svc.id, &st), 0);
	assert_int_equal(st.no_backend, 0);
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);

	f = fe("fd00:96::40", 53, SOCKLB_PROTO_UDP);
	b6[0] = ep("fd00:244::11", 53);
	b6[1] = ep("fd00:244::12", 53);
	b6[2] = ep("fd00:244::13", 53);
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b6, 3, 0), 0);
	assert_int_equal(socklb_service_upsert(&fx.maps, &f, b6, 1, 0), 0);
	io = (struct lb_test_io){ .op = LB_TEST_SENDMSG,
				  .proto = SOCKLB_PROTO_UDP,
				  .netns_cookie = 1,
				  .use_storage = 1,
				  .in = sa("fd00:96::40", 53),
				  .stale_count = 3 };
	for (i = 0; i < 300; i++) {
		reset_socket();
		assert_int_equal(run_io(io, &out), TRANSLATED);
		assert_int_equal(backend_index(out, b6, 1), 0);
	}
	assert_int_equal(socklb_service_delete(&fx.maps, &f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_a_service_passes),
		cmocka_unit_test(test_uniform_choice),
		cmocka_unit_test(test_no_backend_refuses_and_counts),
		cmocka_unit_test(test_affinity_per_client_and_never_a_removed_backend),
		cmocka_unit_test(test_unconnected_udp_keeps_backend_until_it_leaves),
		cmocka_unit_test(test_unconnected_udp_with_affinity),
		cmocka_unit_test(test_reverse_restores_the_right_vip),
		cmocka_unit_test(test_peer_table_evicts_least_recently_used),
		cmocka_unit_test(test_v6_service_and_v4_mapped_key),
		cmocka_unit_test(test_stale_count_after_shrink_still_translates),
	};

	return cmocka_run_group_tests_name("bpf_translation", tests, setup, teardown);
}
