// SPDX-License-Identifier: Apache-2.0
/* Where cgroup v2 is mounted: which cgroup mode a mountinfo file describes. No root needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"

static char path[] = "/tmp/test_cgroup_mountinfoXXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

/* The mode and mount a mountinfo text gives; the lookup's return value. */
static int probe_text(const char *text, struct socklb_cgroup *cg, struct socklb_err *why)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return socklb_cgroup2_mount_find(path, cg, why);
}

static void test_unified(void **state)
{
	struct socklb_cgroup cg;
	struct socklb_err why;

	(void)state;
	assert_int_equal(probe_text("22 1 0:21 / /sys rw shared:7 - sysfs sysfs rw\n"
				    "25 22 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
				    "27 22 0:25 / /sys/fs/bpf rw shared:11 - bpf bpf rw,mode=700\n",
				    &cg, &why),
			 0);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_UNIFIED);
	assert_string_equal(cg.mount, "/sys/fs/cgroup");
	assert_string_equal(socklb_cgroup_mode_name(cg.mode), "unified");
}

static void test_hybrid(void **state)
{
	struct socklb_cgroup cg;
	struct socklb_err why;

	(void)state;
	/* this VM's: v1 controllers, v2 at .../unified, no optional tags */
	assert_int_equal(probe_text("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
				    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
				    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
				    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
				    &cg, &why),
			 0);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_HYBRID);
	assert_string_equal(cg.mount, "/sys/fs/cgroup/unified");
	assert_string_equal(socklb_cgroup_mode_name(cg.mode), "hybrid");
	/* v2 listed first, v1 after it: still hybrid */
	assert_int_equal(probe_text("41 31 0:38 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
				    "32 31 0:29 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n",
				    &cg, &why),
			 0);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_HYBRID);
}

static void test_legacy_and_none(void **state)
{
	struct socklb_cgroup cg;
	struct socklb_err why;

	(void)state;
	assert_int_equal(probe_text("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
				    "33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
				    &cg, &why),
			 -ENOENT);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_LEGACY);
	assert_string_equal(cg.mount, "");
	assert_string_equal(socklb_cgroup_mode_name(cg.mode), "legacy-only");
	assert_non_null(strstr(why.msg, "no cgroup2 mount, only cgroup v1 hierarchies"));

	assert_int_equal(probe_text("22 1 0:21 / /sys rw - sysfs sysfs rw\n", &cg, &why), -ENOENT);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_NONE);
	assert_string_equal(socklb_cgroup_mode_name(cg.mode), "none");
}

static void test_fields(void **state)
{
	struct socklb_cgroup cg;
	struct socklb_err why;

	(void)state;
	/* the first cgroup2 mount counts; escaped spaces are unescaped */
	assert_int_equal(probe_text("30 1 0:30 / /run/my\\040cgroups rw - cgroup2 none rw\n"
				    "31 1 0:31 / /other rw - cgroup2 none rw\n",
				    &cg, &why),
			 0);
	assert_string_equal(cg.mount, "/run/my cgroups");
	/* the type is the field after " - ", not a path or a source named cgroup2 */
	assert_int_equal(probe_text("31 1 0:31 / /cgroup2 rw - tmpfs cgroup2 rw\n", &cg, &why), -ENOENT);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_NONE);
	/* "cgroup2" as a source of a v1 mount is v1 */
	assert_int_equal(probe_text("31 1 0:31 / /x rw - cgroup cgroup2 rw\n", &cg, &why), -ENOENT);
	assert_int_equal(cg.mode, SOCKLB_CGROUP_LEGACY);
	/* a truncated line counts for nothing */
	assert_int_equal(probe_text("31 1 0:31 / - cgroup2 x rw\n", &cg, &why), -ENOENT);
}

static void test_unreadable(void **state)
{
	struct socklb_cgroup cg;
	struct socklb_err why;

	(void)state;
	assert_int_equal(socklb_cgroup2_mount_find("/nonexistent/mountinfo", &cg, &why), -ENOENT);
	assert_string_equal(why.msg, "cannot read /nonexistent/mountinfo: No such file or directory");
	assert_int_equal(cg.mode, SOCKLB_CGROUP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unified),		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_legacy_and_none), cmocka_unit_test(test_fields),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
