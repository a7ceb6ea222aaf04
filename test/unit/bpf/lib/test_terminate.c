// SPDX-License-Identifier: Apache-2.0
/* Pure logic of socket termination: doomed map keys, iterator output, cgroup2 mount, log summary. No root needed. */
#include <arpa/inet.h>
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
#include "terminate.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_build),
		cmocka_unit_test(test_parse_counts_per_target),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_cgroup2_mount),
		cmocka_unit_test(test_summary_per_service),
	};

	return cmocka_run_group_tests_name("terminate", tests, NULL, NULL);
}
