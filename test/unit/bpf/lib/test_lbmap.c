// SPDX-License-Identifier: Apache-2.0
/* Pure logic of the map library: addresses, keys, slot planning. No root needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lbmap.h"
#include "slots.h"

static void test_addr_parse_and_format(void **state)
{
	char buf[SOCKLB_ENDPOINT_STRLEN];
	__be32 a[4];

	(void)state;
	assert_int_equal(socklb_addr_parse("10.96.0.10", a), 0);
	assert_true(socklb_addr_is_v4(a));
	assert_int_equal(a[2], htonl(0xffff));
	socklb_addr_format(a, buf, sizeof(buf));
	assert_string_equal(buf, "10.96.0.10");
	socklb_endpoint_format(a, 53, buf, sizeof(buf));
	assert_string_equal(buf, "10.96.0.10:53");

	assert_int_equal(socklb_addr_parse("fd00:96::a", a), 0);
	assert_false(socklb_addr_is_v4(a));
	socklb_endpoint_format(a, 443, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00:96::a]:443");

	/* the mapped form and the plain form are one address */
	assert_int_equal(socklb_addr_parse("::ffff:10.96.0.10", a), 0);
	assert_true(socklb_addr_is_v4(a));
	socklb_addr_format(a, buf, sizeof(buf));
	assert_string_equal(buf, "10.96.0.10");

	assert_int_equal(socklb_addr_parse("10.96.0", a), -EINVAL);
	assert_int_equal(socklb_addr_parse("", a), -EINVAL);
	assert_int_equal(socklb_addr_parse("10.96.0.10:80", a), -EINVAL);
	assert_int_equal(socklb_addr_parse("fd00::1::2", a), -EINVAL);
}

static void test_proto(void **state)
{
	(void)state;
	assert_int_equal(socklb_proto_parse("TCP"), SOCKLB_PROTO_TCP);
	assert_int_equal(socklb_proto_parse("udp"), SOCKLB_PROTO_UDP);
	assert_int_equal(socklb_proto_parse("SCTP"), -EINVAL);
	assert_string_equal(socklb_proto_name(SOCKLB_PROTO_UDP), "UDP");
}

static void test_key_build(void **state)
{
	struct socklb_frontend fe = { .port = 53, .proto = SOCKLB_PROTO_UDP };
	struct socklb_svc_key key;

	(void)state;
	assert_int_equal(socklb_addr_parse("10.96.0.10", fe.addr), 0);
	memset(&key, 0xaa, sizeof(key));
	socklb_svc_key_build(&fe, &key);
	assert_int_equal(key.port, htons(53));
	assert_int_equal(key.proto, SOCKLB_PROTO_UDP);
	assert_int_equal(key.pad, 0);
	assert_memory_equal(key.addr, fe.addr, 16);
	assert_int_equal(sizeof(key), 20);
}

static struct socklb_endpoint ep(int last, __u16 port)
{
	struct socklb_endpoint e = {};
	char a[32];

	snprintf(a, sizeof(a), "10.244.0.%d", last);
	assert_int_equal(socklb_addr_parse(a, e.addr), 0);
	e.port = port;
	return e;
}

/* plan for `want` over `cur_eps`; returns the plan as last octets */
static __u32 plan(const struct socklb_endpoint *cur_eps, __u32 ncur, const struct socklb_endpoint *want, __u32 nwant,
		  int *out)
{
	struct socklb_backend cur[16], scratch[16], p[16];
	bool flags[32];
	__u32 i, n;

	for (i = 0; i < ncur; i++)
		socklb_backend_from_endpoint(&cur_eps[i], &cur[i]);
	n = socklb_slots_plan(cur, ncur, want, nwant, scratch, p, flags);
	for (i = 0; i < n; i++)
		out[i] = (int)(ntohl(p[i].addr[3]) & 0xff);
	return n;
}

static void test_slots_keep_positions(void **state)
{
	struct socklb_endpoint cur[] = { ep(1, 80), ep(2, 80), ep(3, 80) };
	struct socklb_endpoint want[] = { ep(4, 80), ep(3, 80), ep(1, 80) };
	int out[16] = { 0 };

	(void)state;
	/* 1 and 3 stay at slots 0 and 2; 4 takes the hole 2 left */
	assert_int_equal(plan(cur, 3, want, 3, out), 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[2], 3);
}

static void test_slots_shrink_moves_only_the_tail(void **state)
{
	struct socklb_endpoint cur[] = { ep(1, 80), ep(2, 80), ep(3, 80), ep(4, 80) };
	struct socklb_endpoint want[] = { ep(4, 80), ep(1, 80) };
	int out[16] = { 0 };

	(void)state;
	assert_int_equal(plan(cur, 4, want, 2, out), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 4);
}

static void test_slots_grow_and_dedupe(void **state)
{
	struct socklb_endpoint cur[] = { ep(1, 80) };
	struct socklb_endpoint want[] = { ep(2, 80), ep(1, 80), ep(2, 80), ep(2, 81) };
	int out[16] = { 0 };

	(void)state;
	/* duplicate 10.244.0.2:80 collapses; port 81 is another backend */
	assert_int_equal(plan(cur, 1, want, 4, out), 3);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 2);
	assert_int_equal(plan(NULL, 0, NULL, 0, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_and_format),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_key_build),
		cmocka_unit_test(test_slots_keep_positions),
		cmocka_unit_test(test_slots_shrink_moves_only_the_tail),
		cmocka_unit_test(test_slots_grow_and_dedupe),
	};

	return cmocka_run_group_tests_name("lbmap", tests, NULL, NULL);
}
