// SPDX-License-Identifier: Apache-2.0
/* socklb-syncd trace: filters, output, pod UIDs from cgroup paths, attachment names. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "datapath.h"
#include "links.h"
#include "lbmap.h"
#include "pod_resolver.h"
#include "trace.h"
#include "trace_filter.h"

static struct socklb_trace_event event(const char *vip, __u16 vport, const char *be, __u16 bport, __u8 verdict)
{
	struct socklb_trace_event ev = { .proto = SOCKLB_PROTO_TCP, .verdict = verdict, .hook = SOCKLB_TRACE_CONNECT };

	assert_int_equal(socklb_addr_parse(vip, ev.vip), 0);
	ev.vip_port = htons(vport);
	if (be) {
		assert_int_equal(socklb_addr_parse(be, ev.backend), 0);
		ev.backend_port = htons(bport);
	}
	ev.cgroup_id = 4242;
	return ev;
}

static const struct trace_pod pod = {
	.attachment = "c0ffee0123456789/eth0",
	.uid = "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab",
	.cgroup = "/kubepods/besteffort/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab",
};

static void test_verdict_names(void **state)
{
	static const char *const names[] = { "translated", "refused-no-endpoints", "affinity-hit", "sticky-udp",
					     "reverse-translated" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int v = socklb_verdict_parse(names[i]);

		assert_true(v > 0);
		assert_string_equal(socklb_verdict_name((__u8)v), names[i]);
	}
	assert_int_equal(socklb_verdict_parse("refused"), -EINVAL);
	assert_null(socklb_verdict_name(0));
	assert_null(socklb_verdict_name(200));
	assert_string_equal(socklb_trace_hook_name(SOCKLB_TRACE_GETPEERNAME), "getpeername");
	assert_string_equal(socklb_trace_hook_name(77), "?");
}

static void test_service_filter(void **state)
{
	struct socklb_trace_event web = event("10.96.0.10", 80, "10.244.0.11", 8080, SOCKLB_VERDICT_TRANSLATED);
	struct socklb_trace_event dns6 = event("fd00:96::53", 53, "fd00:244::21", 5353, SOCKLB_VERDICT_STICKY);
	struct trace_filter f;
	struct socklb_err err;

	(void)state;
	assert_int_equal(trace_filter_parse(&f, NULL, NULL, NULL, &err), 0);
	assert_true(trace_filter_match(&f, &web, NULL));
	assert_int_equal(trace_filter_parse(&f, NULL, "10.96.0.10", NULL, &err), 0);
	assert_true(trace_filter_match(&f, &web, &pod));
	assert_false(trace_filter_match(&f, &dns6, &pod));
	assert_int_equal(trace_filter_parse(&f, NULL, "10.96.0.10:81", NULL, &err), 0);
	assert_false(trace_filter_match(&f, &web, &pod));
	assert_int_equal(trace_filter_parse(&f, NULL, "[fd00:96::53]:53", NULL, &err), 0);
	assert_true(trace_filter_match(&f, &dns6, &pod));
	assert_false(trace_filter_match(&f, &web, &pod));
	assert_int_equal(trace_filter_parse(&f, NULL, "fd00:96::53", NULL, &err), 0);
	assert_true(trace_filter_match(&f, &dns6, &pod));
	/* a v4-mapped VIP names the IPv4 service */
	assert_int_equal(trace_filter_parse(&f, NULL, "::ffff:10.96.0.10", NULL, &err), 0);
	assert_true(trace_filter_match(&f, &web, &pod));
	static const char *const bad[] = {
		"web",	      "10.96.0.10:", "10.96.0.10:http", "10.96.0.10:65536", "[fd00::1]", "[fd00::1]:",
		"[fd00::1]x", "fd00::1]:53", "10.96.0.10:-1",	"10.96.0.10:+80",   ""
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (i == 4)
			continue; /* "[fd00::1]": a bracketed address without a port is fine */
		if (trace_filter_parse(&f, NULL, bad[i], NULL, &err) != -EINVAL)
			fail_msg("--service \"%s\" was accepted", bad[i]);
		assert_non_null(strstr(err.msg, "expected a VIP"));
	}
	assert_int_equal(trace_filter_parse(&f, NULL, "[fd00::1]", NULL, &err), 0);
}

static void test_verdict_and_pod_filters(void **state)
{
	struct socklb_trace_event ok = event("10.96.0.10", 80, "10.244.0.11", 8080, SOCKLB_VERDICT_AFFINITY);
	struct socklb_trace_event refused = event("10.96.0.30", 80, NULL, 0, SOCKLB_VERDICT_REFUSED);
	struct socklb_trace_event sticky = event("10.96.0.53", 53, "10.244.0.21", 5353, SOCKLB_VERDICT_STICKY);
	struct trace_filter f;
	struct socklb_err err;

	(void)state;
	assert_int_equal(trace_filter_parse(&f, NULL, NULL, "affinity-hit,refused-no-endpoints", &err), 0);
	assert_true(trace_filter_match(&f, &ok, &pod));
	assert_true(trace_filter_match(&f, &refused, NULL));
	assert_false(trace_filter_match(&f, &sticky, &pod));
	assert_int_equal(trace_filter_parse(&f, NULL, NULL, "affinity-hit,bogus", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\"bogus\""));

	/* the UID, the attachment, a container id prefix; never without a resolved pod */
	static const char *const match[] = { "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab", "c0ffee0123456789/eth0", "c0ffee",
					     "c0ffee0123456789" };
	static const char *const other[] = { "5f0c1d2e", "c0ffee0123456789/eth1", "eth0",
					     "0ffee",	 "c0ffee0123456789/",	  "c0ffee0123456789/eth0x" };
	for (size_t i = 0; i < sizeof(match) / sizeof(match[0]); i++) {
		assert_int_equal(trace_filter_parse(&f, match[i], NULL, NULL, &err), 0);
		if (!trace_filter_match(&f, &ok, &pod))
			fail_msg("--pod %s does not match", match[i]);
		assert_false(trace_filter_match(&f, &ok, NULL));
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(trace_filter_parse(&f, other[i], NULL, NULL, &err), 0);
		if (trace_filter_match(&f, &ok, &pod))
			fail_msg("--pod %s matches", other[i]);
	}
}

/* fn's output into a string (malloc'ed). */
static char *capture(void (*fn)(FILE *, const struct trace_line *), const struct trace_line *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	fn(out, l);
	fclose(out);
	return text;
}

static void print_json(FILE *out, const struct trace_line *l)
{
	assert_int_equal(trace_print_json(out, l), 0);
}

static void test_output(void **state)
{
	struct socklb_trace_event ev = event("10.96.0.10", 80, "10.244.0.11", 8080, SOCKLB_VERDICT_TRANSLATED);
	struct socklb_trace_event refused = event("fd00:96::30", 80, NULL, 0, SOCKLB_VERDICT_REFUSED);
	/* 2024-01-02T03:04:05.123456Z */
	struct trace_line l = { .ev = &ev, .wall_ns = 1704164645123456789ULL, .pod = &pod };
	char *text;

	(void)state;
	ev.pid = 3141;
	memcpy(ev.comm, "curl", 5);
	text = capture(print_json, &l);
	assert_string_equal(text, "{\"time\":\"2024-01-02T03:04:05.123456Z\",\"hook\":\"connect\",\"protocol\":\"TCP\","
				  "\"service\":\"10.96.0.10:80\",\"backend\":\"10.244.0.11:8080\",\"verdict\":"
				  "\"translated\",\"process\":{\"pid\":3141,\"comm\":\"curl\"},\"pod\":{\"attachment\":"
				  "\"c0ffee0123456789/eth0\",\"uid\":"
				  "\"5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab\",\"cgroup\":\"/kubepods/besteffort/"
				  "pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab\"},\"cgroupId\":4242}\n");
	free(text);
	l.ev = &refused;
	l.pod = NULL;
	text = capture(print_json, &l);
	/* an event without a process (an older program's, or a kernel without the helpers) */
	assert_non_null(strstr(text, "\"service\":\"[fd00:96::30]:80\",\"backend\":null,\"verdict\":"
				     "\"refused-no-endpoints\",\"process\":null,\"pod\":null,\"cgroupId\":4242}"));
	free(text);
	text = capture(trace_print_text, &l);
	assert_non_null(strstr(text, " connect     TCP   [fd00:96::30]:80        -                       "
				     "refused-no-endpoints -                       - (cgroup 4242)\n"));
	free(text);
	l.ev = &ev;
	l.pod = &pod;
	text = capture(trace_print_text, &l);
	assert_non_null(
		strstr(text, "10.96.0.10:80           10.244.0.11:8080        translated           "
			     "3141/curl               5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab (c0ffee0123456789/eth0)\n"));
	free(text);
	/* a name is the task's own choice (prctl): spaces and control bytes print as '?', a full one whole */
	memcpy(ev.comm, "a b\033cdefghijklm", sizeof(ev.comm));
	text = capture(trace_print_text, &l);
	assert_non_null(strstr(text, " 3141/a?b?cdefghijklm "));
	free(text);
}

/* Records of older programs (without the process), of this build, and of newer ones (longer). */
static void test_event_decode(void **state)
{
	struct socklb_trace_event ev = event("10.96.0.10", 80, "10.244.0.11", 8080, SOCKLB_VERDICT_TRANSLATED), got;
	unsigned char record[sizeof(ev) + 8];

	(void)state;
	ev.pid = 3141;
	memcpy(ev.comm, "curl", 5);
	memset(record, 0xab, sizeof(record));
	memcpy(record, &ev, sizeof(ev));

	assert_true(socklb_trace_event_decode(record, sizeof(ev), &got));
	assert_memory_equal(&got, &ev, sizeof(ev));
	assert_true(socklb_trace_event_decode(record, sizeof(record), &got));
	assert_memory_equal(&got, &ev, sizeof(ev));

	/* an older program's 56 bytes: everything but the process, which is unknown */
	assert_true(socklb_trace_event_decode(record, SOCKLB_TRACE_EVENT_V1_SIZE, &got));
	assert_memory_equal(&got, &ev, SOCKLB_TRACE_EVENT_V1_SIZE);
	assert_int_equal(got.pid, 0);
	assert_int_equal(got.comm[0], 0);
	assert_int_equal(got.cgroup_id, 4242);

	assert_false(socklb_trace_event_decode(record, SOCKLB_TRACE_EVENT_V1_SIZE - 1, &got));
	assert_false(socklb_trace_event_decode(record, 0, &got));
}

static void test_pod_uid_from_cgroup(void **state)
{
	static const struct {
		const char *path;
		const char *uid;
	} cases[] = {
		{ "/kubepods/besteffort/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab",
		  "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab" },
		{ "/kubepods/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab/0123abcd",
		  "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab" },
		{ "/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod5f0c1d2e_3a4b_4c5d_8e9f_0123456789ab.slice",
		  "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab" },
		{ "/kubepods.slice/kubepods-pod5f0c1d2e_3a4b_4c5d_8e9f_0123456789ab.slice/cri-containerd-0123.scope",
		  "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab" },
		{ "/socklb-test/kubepods/besteffort/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab/ctr1",
		  "5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab" },
	};
	static const char *const none[] = {
		"/",
		"/kubepods/besteffort",
		"/kubepods/besteffort/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789a",
		"/kubepods/besteffort/pod5f0c1d2e-3a4b-4c5d-8e9f-0123456789abc",
		"/kubepods/besteffort/podxf0c1d2e-3a4b-4c5d-8e9f-0123456789ab",
		"/kubepods.slice/kubepods-burstable-pod5f0c1d2e_3a4b_4c5d_8e9f_0123456789ab.scope",
		"",
	};
	char uid[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(uid, 0, sizeof(uid));
		if (pod_uid_from_cgroup(cases[i].path, uid, sizeof(uid)) || strcmp(uid, cases[i].uid) != 0)
			fail_msg("%s: got \"%s\"", cases[i].path, uid);
	}
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (pod_uid_from_cgroup(none[i], uid, sizeof(uid)) != -ENOENT)
			fail_msg("%s: found a UID", none[i]);
	}
}

static void test_attachment_name_roundtrip(void **state)
{
	static const struct {
		const char *cid;
		const char *ifname;
	} cases[] = {
		{ "c0ffee0123456789", "eth0" }, { "abc_-def", "net1" }, { "id.with.dots", "eth_0" }, { "x", "y" }
	};
	char dir[512], decoded[512], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(socklb_attachment_dir("/r", cases[i].cid, cases[i].ifname, dir, sizeof(dir)), 0);
		assert_int_equal(socklb_attachment_name_decode(dir + strlen("/r/links/"), decoded, sizeof(decoded)), 0);
		snprintf(want, sizeof(want), "%s/%s", cases[i].cid, cases[i].ifname);
		assert_string_equal(decoded, want);
	}
	assert_int_equal(socklb_attachment_name_decode("nosep", decoded, sizeof(decoded)), -EINVAL);
	assert_int_equal(socklb_attachment_name_decode("_-eth0", decoded, sizeof(decoded)), -EINVAL);
	assert_int_equal(socklb_attachment_name_decode("a_zz_-eth0", decoded, sizeof(decoded)), -EINVAL);
	assert_int_equal(socklb_attachment_name_decode("abc_-eth0", decoded, 4), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_service_filter),
		cmocka_unit_test(test_verdict_and_pod_filters),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_event_decode),
		cmocka_unit_test(test_pod_uid_from_cgroup),
		cmocka_unit_test(test_attachment_name_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
