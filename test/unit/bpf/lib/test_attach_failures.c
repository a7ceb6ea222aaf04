// SPDX-License-Identifier: Apache-2.0
/*
 * The attach-failure record the plugin writes and the daemon reads: counts
 * per policy, the last failure, its directory and mode, and what a reader
 * makes of a missing or foreign file. In a private temporary directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "attach_failures.h"

struct paths {
	char dir[64];
	char file[96]; /* in a subdirectory the first record creates */
};

static int setup(void **state)
{
	struct paths *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/socklb-test-af.XXXXXX");
	if (!mkdtemp(p->dir)) {
		free(p);
		return -1;
	}
	snprintf(p->file, sizeof(p->file), "%s/run/attach-failures", p->dir);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct paths *p = *state;
	char sub[80];

	unlink(p->file);
	snprintf(sub, sizeof(sub), "%s/run", p->dir);
	rmdir(sub);
	rmdir(p->dir);
	free(p);
	return 0;
}

static void test_none_recorded(void **state)
{
	struct paths *p = *state;
	struct socklb_attach_failures r;

	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), -ENOENT);
}

static void test_counts_and_last(void **state)
{
	struct paths *p = *state;
	struct socklb_attach_failures r;
	char sub[80];
	struct stat st;
	time_t before = time(NULL);

	assert_int_equal(socklb_attach_failures_record(p->file, true, "team/a", "no bpffs at the bpffs root: x", NULL),
			 0);
	assert_int_equal(socklb_attach_failures_record(p->file, true, "team/b", "cannot find the pod cgroup", NULL), 0);
	assert_int_equal(
		socklb_attach_failures_record(p->file, false, "web/c", "cannot load the datapath programs: y", NULL),
		0);
	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), 0);
	assert_int_equal(r.ignored, 2);
	assert_int_equal(r.failed, 1);
	assert_string_equal(r.last_pod, "web/c");
	assert_string_equal(r.last_error, "cannot load the datapath programs: y");
	assert_true(r.last_time >= (double)before && r.last_time <= (double)time(NULL) + 1);

	/* Root's alone: the directory the first record made, and the file. */
	snprintf(sub, sizeof(sub), "%s/run", p->dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(p->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_one_line_each(void **state)
{
	struct paths *p = *state;
	struct socklb_attach_failures r;

	/* A newline in what is recorded must not start a line of the record, nor a blank end the pod. */
	assert_int_equal(socklb_attach_failures_record(p->file, false, "ns/x\nfailed 99", "a\nignored 1000\r", NULL),
			 0);
	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), 0);
	assert_int_equal(r.ignored, 0);
	assert_int_equal(r.failed, 1);
	assert_string_equal(r.last_pod, "ns/x_failed_99");
	assert_string_equal(r.last_error, "a ignored 1000 ");
}

static void test_long_error_truncated(void **state)
{
	struct paths *p = *state;
	struct socklb_attach_failures r;
	char error[3000];

	memset(error, 'e', sizeof(error) - 1);
	error[sizeof(error) - 1] = '\0';
	assert_int_equal(socklb_attach_failures_record(p->file, true, "ns/long", error, NULL), 0);
	assert_int_equal(socklb_attach_failures_record(p->file, true, "ns/long", error, NULL), 0);
	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), 0);
	assert_int_equal(r.ignored, 2);
	assert_int_equal(strlen(r.last_error), SOCKLB_ATTACH_FAILURE_ERROR_LEN - 1);
}

static void test_foreign_file(void **state)
{
	struct paths *p = *state;
	struct socklb_attach_failures r;
	FILE *f;

	assert_int_equal(socklb_attach_failures_record(p->file, true, "ns/a", "x", NULL), 0);
	f = fopen(p->file, "w");
	assert_non_null(f);
	fputs("something else\nignored 12\n", f);
	fclose(f);
	/* A reader says it is not a record; the next failure counts from zero again. */
	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), -EINVAL);
	assert_int_equal(socklb_attach_failures_record(p->file, true, "ns/b", "y", NULL), 0);
	assert_int_equal(socklb_attach_failures_read(p->file, &r, NULL), 0);
	assert_int_equal(r.ignored, 1);
	assert_string_equal(r.last_pod, "ns/b");
}

static void test_unwritable(void **state)
{
	struct paths *p = *state;
	char path[128];

	/* Its directory's parent does not exist: only one level is created. */
	snprintf(path, sizeof(path), "%s/no/such/dir/attach-failures", p->dir);
	assert_int_equal(socklb_attach_failures_record(path, true, "ns/a", "x", NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_none_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_line_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_error_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
