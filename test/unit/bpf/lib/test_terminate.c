// SPDX-License-Identifier: Apache-2.0
/*
 * Pure logic of socket termination: methods and the automatic choice from a
 * probe, the doomed set, what the iterators print, SOCK_DESTROY requests,
 * the namespace list, the cgroup2 mount, the log summary. No root needed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lbmap.h"
#include "term_internal.h"

static void target_init(struct socklb_term_target *t, __u32 svc_id, const char *addr, __u16 port, __u8 protocols)
{
	memset(t, 0, sizeof(*t));
	t->svc_id = svc_id;
	assert_int_equal(socklb_addr_parse(addr, t->backend), 0);
	t->backend_port = port;
	t->protocols = protocols;
}

static void test_key_build(void **state)
{
	struct socklb_term_target t;
	struct socklb_term_key key;

	(void)state;
	target_init(&t, 7, "10.244.0.21", 5353, SOCKLB_TERM_UDP);
	memset(&key, 0xff, sizeof(key));
	assert_int_equal(socklb_term_key_build(&t, &key), 0);
	assert_int_equal(key.svc_id, 7);
	/* the record's form: IPv4 v4-mapped, port in network order, padding zeroed */
	assert_int_equal(key.backend[2], htonl(0xffff));
	assert_int_equal(key.backend[3], inet_addr("10.244.0.21"));
	assert_int_equal(key.backend_port, htons(5353));
	assert_int_equal(key.pad, 0);

	t.protocols = SOCKLB_TERM_UDP | SOCKLB_TERM_TCP;
	assert_int_equal(socklb_term_key_build(&t, &key), 0);
	t.protocols = 0;
	assert_int_equal(socklb_term_key_build(&t, &key), -EINVAL);
	t.protocols = 0x4;
	assert_int_equal(socklb_term_key_build(&t, &key), -EINVAL);
}

static void test_parse_counts_per_target(void **state)
{
	struct socklb_term_result res[3] = {};
	const char out[] = "0 0\n2 0\n2 0\n2 -95\n";

	(void)state;
	assert_int_equal(socklb_term_parse(out, strlen(out), res, 3), 4);
	assert_int_equal(res[0].destroyed, 1);
	assert_int_equal(res[1].destroyed, 0);
	assert_int_equal(res[2].destroyed, 2);
	assert_int_equal(res[2].failed, 1);
	/* counts add up across namespaces */
	assert_int_equal(socklb_term_parse("0 0\n", 4, res, 3), 1);
	assert_int_equal(res[0].destroyed, 2);
	assert_int_equal(socklb_term_parse("", 0, res, 3), 0);
}

static void test_parse_rejects_malformed(void **state)
{
	struct socklb_term_result res[2] = {};

	(void)state;
	assert_int_equal(socklb_term_parse("2 0\n", 4, res, 2), -EBADMSG);
	assert_int_equal(socklb_term_parse("0 0", 3, res, 2), -EBADMSG);
	assert_int_equal(socklb_term_parse("x 0\n", 4, res, 2), -EBADMSG);
	assert_int_equal(socklb_term_parse("0\n", 2, res, 2), -EBADMSG);
	assert_int_equal(socklb_term_parse("0 0 1\n", 6, res, 2), -EBADMSG);
	assert_int_equal(socklb_term_parse("-1 0\n", 5, res, 2), -EBADMSG);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_cgroup2_mount(void **state)
{
	char path[] = "/tmp/test_terminate_mountinfoXXXXXX";
	char buf[256];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	/* a hybrid host: cgroup v1 controllers, v2 at .../unified, an optional tag before " - " */
	write_file(path, "25 24 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
			 "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
			 "27 25 0:24 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n");
	assert_int_equal(socklb_term_cgroup2_mount(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");

	/* mount points escape spaces as \040 */
	write_file(path, "30 1 0:30 / /run/my\\040cgroups rw - cgroup2 none rw\n");
	assert_int_equal(socklb_term_cgroup2_mount(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/my cgroups");

	/* "cgroup2" must be the filesystem type, not a path or a source */
	write_file(path, "31 1 0:31 / /cgroup2 rw - cgroup cgroup2 rw\n");
	assert_int_equal(socklb_term_cgroup2_mount(path, buf, sizeof(buf)), -ENOENT);

	unlink(path);
	assert_int_equal(socklb_term_cgroup2_mount(path, buf, sizeof(buf)), -ENOENT);
}

static void test_summary_per_service(void **state)
{
	struct socklb_term_target t[4];
	struct socklb_term_result res[4] = { { 2, 0 }, { 0, 0 }, { 1, 1 }, { 3, 0 } };
	char buf[256];

	(void)state;
	target_init(&t[0], 7, "10.244.0.21", 53, SOCKLB_TERM_UDP);
	target_init(&t[1], 9, "10.244.0.22", 53, SOCKLB_TERM_UDP);
	target_init(&t[2], 7, "fd00:244::22", 53, SOCKLB_TERM_UDP);
	target_init(&t[3], 12, "10.244.0.23", 8080, SOCKLB_TERM_TCP);
	socklb_term_summary(t, res, 4, buf, sizeof(buf));
	assert_string_equal(buf, "service 7: 3 (10.244.0.21:53 2, [fd00:244::22]:53 1 + 1 failed), "
				 "service 12: 3 (10.244.0.23:8080 3)");

	memset(res, 0, sizeof(res));
	socklb_term_summary(t, res, 4, buf, sizeof(buf));
	assert_string_equal(buf, "none");

	/* a short buffer is cut, never overrun */
	res[0].destroyed = 1;
	socklb_term_summary(t, res, 4, buf, 12);
	assert_string_equal(buf, "service 7: ");
}

/* ---- methods ------------------------------------------------------------------- */

static void test_method_names(void **state)
{
	enum socklb_term_method m;

	(void)state;
	for (int i = 0; i < SOCKLB_TERM_METHODS; i++) {
		assert_int_equal(socklb_term_method_parse(socklb_term_method_name((enum socklb_term_method)i), &m), 0);
		assert_int_equal(m, i);
	}
	assert_string_equal(socklb_term_method_name(SOCKLB_TERM_TASKS_BPF), "tasks+bpf");
	assert_string_equal(socklb_term_method_name(SOCKLB_TERM_OFF), "off");
	/* "auto" is the caller's: it probes */
	assert_int_equal(socklb_term_method_parse("auto", &m), -EINVAL);
	assert_int_equal(socklb_term_method_parse("tasks", &m), -EINVAL);
	assert_string_equal(socklb_term_part_name(SOCKLB_TERM_PART_IDS), "ids");
}

/* A probe where the parts listed (a SOCKLB_TERM_PARTS-terminated list) fail with EPERM. */
static void probe_failing(struct socklb_term_probe *p, ...)
{
	va_list ap;
	int part;

	memset(p, 0, sizeof(*p));
	va_start(ap, p);
	while ((part = va_arg(ap, int)) != SOCKLB_TERM_PARTS) {
		p->err[part] = -EPERM;
		snprintf(p->why[part], sizeof(p->why[part]), "%s fails", socklb_term_part_name(part));
	}
	va_end(ap);
}

static void test_method_choose(void **state)
{
	struct socklb_term_probe p;
	char why[SOCKLB_TERM_WHY_LEN];

	(void)state;
	/* a kernel >= 6.5 with every privilege: the exact finder, destroying in the iterators */
	probe_failing(&p, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_RECORDS_BPF);
	assert_string_equal(why, "every part it needs works here");

	/* this development VM: the records iterator is refused */
	probe_failing(&p, SOCKLB_TERM_PART_RECORDS, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_TASKS_BPF);
	assert_string_equal(why, "records: records fails");

	/* below 6.5: no bpf_sock_destroy, sock_diag destroys */
	probe_failing(&p, SOCKLB_TERM_PART_BPF, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_RECORDS_DIAG);
	assert_string_equal(why, "bpf: bpf fails");

	/* each part that ruled out a cheaper method is named once, in the order it did */
	probe_failing(&p, SOCKLB_TERM_PART_RECORDS, SOCKLB_TERM_PART_TASKS, SOCKLB_TERM_PART_BPF, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_PODS_DIAG);
	assert_string_equal(why, "records: records fails; tasks: tasks fails; bpf: bpf fails");

	/* nothing without entering pods' namespaces */
	probe_failing(&p, SOCKLB_TERM_PART_NETNS, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_OFF);
	assert_string_equal(why, "netns: netns fails");
	probe_failing(&p, SOCKLB_TERM_PART_BPF, SOCKLB_TERM_PART_DIAG, SOCKLB_TERM_PARTS);
	assert_int_equal(socklb_term_method_choose(&p, why, sizeof(why)), SOCKLB_TERM_OFF);
	assert_string_equal(why, "bpf: bpf fails; diag: diag fails");
}

static void test_method_check(void **state)
{
	struct socklb_term_probe p;
	char why[SOCKLB_TERM_WHY_LEN];

	(void)state;
	probe_failing(&p, SOCKLB_TERM_PART_IDS, SOCKLB_TERM_PARTS);
	/* the records finder names the sockets itself: no ids iterators needed */
	assert_int_equal(socklb_term_method_check(&p, SOCKLB_TERM_RECORDS_DIAG, why, sizeof(why)), 0);
	assert_string_equal(why, "every part it needs works here");
	assert_int_equal(socklb_term_method_check(&p, SOCKLB_TERM_PODS_DIAG, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "ids: ids fails");
	assert_int_equal(socklb_term_method_check(&p, SOCKLB_TERM_PODS_BPF, why, sizeof(why)), 0);
	assert_int_equal(socklb_term_method_check(&p, SOCKLB_TERM_OFF, why, sizeof(why)), -EINVAL);
}

/* ---- the doomed set, what the iterators print, SOCK_DESTROY ------------------------ */

static void test_doomed_build(void **state)
{
	struct socklb_term_target t[4];
	struct term_doomed d;

	(void)state;
	target_init(&t[0], 9, "10.244.0.22", 53, SOCKLB_TERM_UDP);
	target_init(&t[1], 7, "10.244.0.21", 53, SOCKLB_TERM_UDP);
	target_init(&t[2], 9, "10.244.0.22", 53, SOCKLB_TERM_TCP); /* the same backend of the same service */
	target_init(&t[3], 7, "fd00::21", 53, SOCKLB_TERM_TCP);
	assert_int_equal(term_doomed_build(&d, t, 0, 4), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.protocols, SOCKLB_TERM_UDP | SOCKLB_TERM_TCP);
	for (size_t i = 1; i < d.n; i++)
		assert_true(memcmp(&d.e[i - 1].key, &d.e[i].key, sizeof(d.e[i].key)) < 0);
	for (size_t i = 0; i < d.n; i++) {
		if (d.e[i].key.svc_id == 9) {
			/* a repeated target: the first one gets the counts, for both protocols */
			assert_int_equal(d.e[i].index, 0);
			assert_int_equal(d.e[i].protocols, SOCKLB_TERM_UDP | SOCKLB_TERM_TCP);
		}
	}
	term_doomed_free(&d);

	/* a range of the targets: indexes stay the caller's */
	assert_int_equal(term_doomed_build(&d, t, 3, 4), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.e[0].index, 3);
	term_doomed_free(&d);

	t[1].protocols = 0;
	assert_int_equal(term_doomed_build(&d, t, 0, 4), -EINVAL);
	term_doomed_free(&d);
}

static void test_socks_parse(void **state)
{
	struct socklb_term_sock out[3];
	struct term_socks s = { 0 };

	(void)state;
	memset(out, 0, sizeof(out));
	for (int i = 0; i < 3; i++) {
		out[i].netns = 4026532000U + (unsigned)i;
		out[i].index = (unsigned)i;
		out[i].cookie = 0x100000002ULL * (unsigned)(i + 1);
	}
	assert_int_equal(term_socks_parse(out, 2 * sizeof(out[0]), &s), 0);
	assert_int_equal(term_socks_parse(&out[2], sizeof(out[0]), &s), 0);
	assert_int_equal(s.n, 3);
	assert_memory_equal(s.e, out, sizeof(out));
	/* only whole records */
	assert_int_equal(term_socks_parse(out, sizeof(out[0]) + 1, &s), -EBADMSG);
	assert_int_equal(s.n, 3);
	assert_int_equal(term_socks_parse(out, 0, &s), 0);
	term_socks_free(&s);
	assert_int_equal(s.n, 0);
}

static void test_diag_request(void **state)
{
	struct socklb_term_sock s = { .protocol = SOCKLB_TERM_UDP, .family = AF_INET6, .ifindex = 3 };
	struct inet_diag_req_v2 r;

	(void)state;
	assert_int_equal(socklb_addr_parse("::ffff:10.244.0.2", s.src), 0);
	assert_int_equal(socklb_addr_parse("::ffff:10.244.0.21", s.dst), 0);
	s.sport = htons(40000);
	s.dport = htons(5353);
	s.cookie = 0x0000000a0000000bULL;
	memset(&r, 0xff, sizeof(r));
	term_diag_request(&s, &r);
	assert_int_equal(r.sdiag_family, AF_INET6);
	assert_int_equal(r.sdiag_protocol, IPPROTO_UDP);
	assert_int_equal(r.idiag_states, 0);
	assert_int_equal(r.id.idiag_sport, htons(40000));
	assert_int_equal(r.id.idiag_dport, htons(5353));
	assert_memory_equal(r.id.idiag_src, s.src, sizeof(s.src));
	assert_memory_equal(r.id.idiag_dst, s.dst, sizeof(s.dst));
	assert_int_equal(r.id.idiag_if, 3);
	/* the kernel compares the low half first */
	assert_int_equal(r.id.idiag_cookie[0], 0xb);
	assert_int_equal(r.id.idiag_cookie[1], 0xa);

	s.protocol = SOCKLB_TERM_TCP;
	s.family = AF_INET;
	term_diag_request(&s, &r);
	assert_int_equal(r.sdiag_family, AF_INET);
	assert_int_equal(r.sdiag_protocol, IPPROTO_TCP);
}

static void test_netns_want(void **state)
{
	struct term_netns_list l = { 0 };

	(void)state;
	assert_int_equal(term_netns_want(&l, 4026532001, SOCKLB_TERM_UDP), 0);
	assert_int_equal(term_netns_want(&l, 4026532002, SOCKLB_TERM_TCP), 0);
	assert_int_equal(term_netns_want(&l, 4026532001, SOCKLB_TERM_TCP), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(term_netns_want(&l, 4026532002, SOCKLB_TERM_TCP), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.opened, 0);
	assert_int_equal(l.e[0].protocols, SOCKLB_TERM_UDP | SOCKLB_TERM_TCP);
	assert_int_equal(l.e[0].fd, -1);
	assert_int_equal(l.e[1].protocols, SOCKLB_TERM_TCP);
	term_netns_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_method_choose),
		cmocka_unit_test(test_method_check),
		cmocka_unit_test(test_doomed_build),
		cmocka_unit_test(test_socks_parse),
		cmocka_unit_test(test_diag_request),
		cmocka_unit_test(test_netns_want),
		cmocka_unit_test(test_key_build),
		cmocka_unit_test(test_parse_counts_per_target),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_cgroup2_mount),
		cmocka_unit_test(test_summary_per_service),
	};

	return cmocka_run_group_tests_name("terminate", tests, NULL, NULL);
}
