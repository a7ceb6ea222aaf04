// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's socket termination decisions: which backends a write takes out
 * of a frontend, and the grace period of serving+terminating endpoints (what a
 * held backend becomes, the slices that keep it held, the list the daemon
 * settles on every pass and on its timer); the method it uses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "terminator.h"

static struct socklb_endpoint ep(const char *addr, __u16 port)
{
	struct socklb_endpoint e = { .port = port };

	assert_int_equal(socklb_addr_parse(addr, e.addr), 0);
	return e;
}

static struct socklb_frontend frontend(const char *addr, __u16 port, __u8 proto)
{
	struct socklb_frontend fe = { .port = port, .proto = proto };

	assert_int_equal(socklb_addr_parse(addr, fe.addr), 0);
	return fe;
}

static void assert_endpoint_equal(const struct socklb_endpoint *got, const struct socklb_endpoint *want)
{
	assert_memory_equal(got->addr, want->addr, sizeof(got->addr));
	assert_int_equal(got->port, want->port);
}

/* ---- backends_removed ---------------------------------------------------------- */

static void test_removed(void **state)
{
	/* sorted by endpoint_cmp: address, then port */
	const struct socklb_endpoint applied[] = { ep("10.244.0.21", 53), ep("10.244.0.21", 5353),
						   ep("10.244.0.22", 5353), ep("10.244.0.23", 5353) };
	const struct socklb_endpoint desired[] = { ep("10.244.0.21", 5353), ep("10.244.0.23", 5353),
						   ep("10.244.0.24", 5353) };
	struct socklb_endpoint out[4];

	(void)state;
	/* a scale-up removes nothing; a new backend in desired is not "removed" */
	assert_int_equal(backends_removed(applied, 4, applied, 4, out), 0);
	assert_int_equal(backends_removed(NULL, 0, desired, 3, out), 0);
	/* the same address with another port is another backend */
	assert_int_equal(backends_removed(applied, 4, desired, 3, out), 2);
	assert_endpoint_equal(&out[0], &applied[0]);
	assert_endpoint_equal(&out[1], &applied[2]);
	/* to no backend at all: every one leaves */
	assert_int_equal(backends_removed(applied, 4, NULL, 0, out), 4);
	for (size_t i = 0; i < 4; i++)
		assert_endpoint_equal(&out[i], &applied[i]);
	/* desired sorts entirely before or after */
	assert_int_equal(backends_removed(&applied[3], 1, desired, 2, out), 0);
	assert_int_equal(backends_removed(applied, 2, &desired[2], 1, out), 2);
}

static void test_removed_v6(void **state)
{
	const struct socklb_endpoint applied[] = { ep("fd00:244::21", 53), ep("fd00:244::22", 53) };
	const struct socklb_endpoint desired[] = { ep("fd00:244::22", 53) };
	struct socklb_endpoint out[2];

	(void)state;
	assert_int_equal(backends_removed(applied, 2, desired, 1, out), 1);
	assert_endpoint_equal(&out[0], &applied[0]);
}

/* ---- held_decide ------------------------------------------------------------------ */

static void test_decide(void **state)
{
	(void)state;
	/* back in the frontend: its sockets are good, whatever the time */
	assert_int_equal(held_decide(HELD_BACK, 1000, 0), HELD_FORGET);
	assert_int_equal(held_decide(HELD_BACK, 1000, 5000), HELD_FORGET);
	/* stopped serving or gone: at once, before the grace ends */
	assert_int_equal(held_decide(HELD_LEFT, 1000, 0), HELD_TERMINATE);
	/* still serving and terminating, or not looked at: until the deadline, inclusive */
	assert_int_equal(held_decide(HELD_SERVING_TERMINATING, 1000, 999), HELD_WAIT);
	assert_int_equal(held_decide(HELD_SERVING_TERMINATING, 1000, 1000), HELD_TERMINATE);
	assert_int_equal(held_decide(HELD_NOT_CHECKED, 1000, 999), HELD_WAIT);
	assert_int_equal(held_decide(HELD_NOT_CHECKED, 1000, 1001), HELD_TERMINATE);
}

/* ---- slice_has_serving_terminating -------------------------------------------------- */

static const char *slice_json =
	"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	"\"metadata\":{\"name\":\"dns-abcde\",\"namespace\":\"kube-system\","
	"\"labels\":{\"kubernetes.io/service-name\":\"dns\"}},"
	"\"addressType\":\"IPv4\","
	"\"ports\":[{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"},{\"name\":\"dns-tcp\",\"port\":5353}],"
	"\"endpoints\":["
	"{\"addresses\":[\"10.244.0.21\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
	"{\"addresses\":[\"10.244.0.22\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}},"
	"{\"addresses\":[\"10.244.0.23\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false}},"
	"{\"addresses\":[\"10.244.0.24\"]},"
	"{\"addresses\":[\"10.244.0.25\",\"10.244.0.26\"],"
	"\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}}"
	"]}";

static void test_slice_serving_terminating(void **state)
{
	cJSON *slice = cJSON_Parse(slice_json);
	struct socklb_frontend udp = frontend("10.96.0.10", 53, SOCKLB_PROTO_UDP);
	struct socklb_frontend tcp = frontend("10.96.0.10", 53, SOCKLB_PROTO_TCP);
	struct socklb_endpoint be;

	(void)state;
	assert_non_null(slice);
	be = ep("10.244.0.21", 5353);
	assert_true(slice_has_serving_terminating(slice, &udp, &be));
	/* the unnamed port without a protocol is TCP */
	assert_true(slice_has_serving_terminating(slice, &tcp, &be));
	/* another port number is another backend */
	be = ep("10.244.0.21", 53);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	/* terminating but no longer serving: not held */
	be = ep("10.244.0.22", 5353);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	/* ready ones (explicitly or by absent conditions) are not terminating */
	be = ep("10.244.0.23", 5353);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	be = ep("10.244.0.24", 5353);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	/* only addresses[0] counts, as for translation */
	be = ep("10.244.0.25", 5353);
	assert_true(slice_has_serving_terminating(slice, &udp, &be));
	be = ep("10.244.0.26", 5353);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	/* not in the slice */
	be = ep("10.244.0.99", 5353);
	assert_false(slice_has_serving_terminating(slice, &udp, &be));
	cJSON_Delete(slice);
}

static void test_slice_protocol_and_malformed(void **state)
{
	cJSON *udp_only = cJSON_Parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"addressType\":\"IPv6\","
				      "\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}],"
				      "\"endpoints\":[{\"addresses\":[\"fd00:244::21\"],"
				      "\"conditions\":{\"serving\":true,\"terminating\":true,\"ready\":false}}]}");
	cJSON *bad = cJSON_Parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"addressType\":\"IPv4\","
				 "\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}],"
				 "\"endpoints\":[{\"addresses\":[\"10.244.0.21\"],"
				 "\"conditions\":{\"serving\":\"yes\",\"terminating\":true}}]}");
	struct socklb_frontend udp6 = frontend("fd00:96::10", 53, SOCKLB_PROTO_UDP);
	struct socklb_frontend tcp6 = frontend("fd00:96::10", 53, SOCKLB_PROTO_TCP);
	struct socklb_frontend udp4 = frontend("10.96.0.10", 53, SOCKLB_PROTO_UDP);
	struct socklb_endpoint be6 = ep("fd00:244::21", 53), be4 = ep("10.244.0.21", 53);

	(void)state;
	assert_non_null(udp_only);
	assert_non_null(bad);
	assert_true(slice_has_serving_terminating(udp_only, &udp6, &be6));
	/* the slice has no TCP port: a TCP frontend's backend is not in it */
	assert_false(slice_has_serving_terminating(udp_only, &tcp6, &be6));
	/* translation rejects a malformed slice; so does this */
	assert_false(slice_has_serving_terminating(bad, &udp4, &be4));
	cJSON_Delete(udp_only);
	cJSON_Delete(bad);
}

/* ---- the held list ------------------------------------------------------------------- */

struct terminated {
	struct held_backend items[8];
	size_t n;
	int fail; /* returned instead of taking the backend */
};

static int take(const struct held_backend *hb, void *ctx)
{
	struct terminated *t = ctx;

	if (t->fail)
		return t->fail;
	assert_true(t->n < 8);
	t->items[t->n++] = *hb;
	return 0;
}

static void test_held_settle(void **state)
{
	struct socklb_frontend fe = frontend("10.96.0.10", 53, SOCKLB_PROTO_UDP);
	struct socklb_endpoint a = ep("10.244.0.21", 53), b = ep("10.244.0.22", 53), c = ep("10.244.0.23", 53),
			       d = ep("10.244.0.24", 53);
	struct held_list h = { 0 };
	struct terminated t = { 0 };

	(void)state;
	assert_int_equal(held_next_deadline_ms(&h, 0), -1);
	assert_int_equal(held_add(&h, 7, &fe, &a, 1000), 0);
	assert_int_equal(held_add(&h, 7, &fe, &b, 1500), 0);
	assert_int_equal(held_add(&h, 7, &fe, &c, 2000), 0);
	assert_int_equal(held_add(&h, 7, &fe, &d, 2500), 0);
	/* new ones await review */
	for (size_t i = 0; i < h.n; i++) {
		assert_true(h.items[i].review);
		assert_int_equal(h.items[i].state, HELD_NOT_CHECKED);
	}
	assert_int_equal(held_next_deadline_ms(&h, 200), 800);

	/* the review: a still serves, b stopped, c is a backend again, d is unchanged */
	h.items[0].state = HELD_SERVING_TERMINATING;
	h.items[1].state = HELD_LEFT;
	h.items[2].state = HELD_BACK;
	assert_int_equal(held_settle(&h, 200, take, &t), 0);
	assert_int_equal(t.n, 1);
	assert_endpoint_equal(&t.items[0].be, &b);
	assert_int_equal(t.items[0].svc_id, 7);
	assert_int_equal(h.n, 2);
	assert_endpoint_equal(&h.items[0].be, &a);
	assert_endpoint_equal(&h.items[1].be, &d);
	/* settled: no review pending, only deadlines count from now on */
	assert_false(h.items[0].review);
	assert_int_equal(h.items[0].state, HELD_NOT_CHECKED);

	/* the timer: a's grace ends at 1000, d's at 2500 */
	assert_int_equal(held_settle(&h, 999, take, &t), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(held_next_deadline_ms(&h, 999), 1);
	assert_int_equal(held_settle(&h, 1000, take, &t), 0);
	assert_int_equal(t.n, 2);
	assert_endpoint_equal(&t.items[1].be, &a);
	assert_int_equal(held_next_deadline_ms(&h, 3000), 0);

	/* a batch that cannot take it keeps it held, due at once */
	t.fail = -ENOMEM;
	assert_int_equal(held_settle(&h, 3000, take, &t), -ENOMEM);
	assert_int_equal(h.n, 1);
	t.fail = 0;
	assert_int_equal(held_settle(&h, 3000, take, &t), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(t.n, 3);
	assert_endpoint_equal(&t.items[2].be, &d);
	held_list_release(&h);
}

static void test_held_release(void **state)
{
	struct socklb_frontend fe1 = frontend("10.96.0.10", 53, SOCKLB_PROTO_UDP);
	struct socklb_frontend fe1_tcp = frontend("10.96.0.10", 53, SOCKLB_PROTO_TCP);
	struct socklb_endpoint a = ep("10.244.0.21", 53), b = ep("10.244.0.22", 53);
	struct held_list h = { 0 };
	struct terminated t = { 0 };

	(void)state;
	assert_int_equal(held_add(&h, 1, &fe1, &a, 5000), 0);
	assert_int_equal(held_add(&h, 2, &fe1_tcp, &a, 5000), 0);
	assert_int_equal(held_add(&h, 1, &fe1, &b, 5000), 0);
	/* the UDP frontend is deleted: its held backends go now, with its id; the TCP one stays */
	assert_int_equal(held_release(&h, &fe1, take, &t), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.items[0].svc_id, 1);
	assert_int_equal(t.items[1].svc_id, 1);
	assert_endpoint_equal(&t.items[1].be, &b);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.items[0].svc_id, 2);
	/* failing to queue keeps it */
	t.fail = -ENOMEM;
	assert_int_equal(held_release(&h, &fe1_tcp, take, &t), -ENOMEM);
	assert_int_equal(h.n, 1);
	held_list_release(&h);
	assert_int_equal(h.n, 0);
	assert_null(h.items);
}

/* ---- the method and its log line ------------------------------------------------- */

static void test_method(void **state)
{
	struct socklb_term_probe p;
	char why[SOCKLB_TERM_WHY_LEN];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.err[SOCKLB_TERM_PART_RECORDS] = -EPERM;
	snprintf(p.why[SOCKLB_TERM_PART_RECORDS], sizeof(p.why[0]), "loading the socket records iterator: %s",
		 strerror(EPERM));
	assert_int_equal(terminator_method(true, SOCKLB_TERM_OFF, &p, why, sizeof(why)), SOCKLB_TERM_TASKS_BPF);
	assert_string_equal(why, "records: loading the socket records iterator: Operation not permitted");

	/* none works: the line says so, and why */
	p.err[SOCKLB_TERM_PART_NETNS] = -EPERM;
	snprintf(p.why[SOCKLB_TERM_PART_NETNS], sizeof(p.why[0]), "setns: %s", strerror(EPERM));
	assert_int_equal(terminator_method(true, SOCKLB_TERM_OFF, &p, why, sizeof(why)), SOCKLB_TERM_OFF);
	assert_string_equal(why, "no method works here: netns: setns: Operation not permitted");

	/* a method named on the command line is taken as it is (its load says whether it works) */
	assert_int_equal(terminator_method(false, SOCKLB_TERM_PODS_DIAG, &p, why, sizeof(why)), SOCKLB_TERM_PODS_DIAG);
	assert_string_equal(why, "--termination-method pods+diag");
	assert_int_equal(terminator_method(false, SOCKLB_TERM_OFF, NULL, why, sizeof(why)), SOCKLB_TERM_OFF);
	assert_string_equal(why, "--termination-method off");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_removed_v6),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_slice_serving_terminating),
		cmocka_unit_test(test_slice_protocol_and_malformed),
		cmocka_unit_test(test_held_settle),
		cmocka_unit_test(test_held_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
