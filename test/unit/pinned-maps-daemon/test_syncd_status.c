// SPDX-License-Identifier: Apache-2.0
/* `socklb-syncd status` without the kernel: rows, the verdict and its exit status, the text and JSON forms. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "status.h"

static struct status st;

static void row(const char *item, enum status_level level, int err, const char *result, const char *consequence,
		const char *detail)
{
	struct status_row *r = status_add(&st, item, level, err, detail);

	assert_non_null(r);
	snprintf(r->result, sizeof(r->result), "%s", result);
	snprintf(r->consequence, sizeof(r->consequence), "%s", consequence);
}

static int setup(void **state)
{
	(void)state;
	memset(&st, 0, sizeof(st));
	return 0;
}

static char *print_text(bool verbose)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	status_print_text(&st, verbose, out);
	fclose(out);
	return buf;
}

static void test_summary(void **state)
{
	(void)state;
	status_summary_add(&st, "cgroup v2 %s", "hybrid");
	status_summary_add(&st, "hooks ok");
	status_summary_add(&st, "iterators%s", " tcp udp");
	assert_string_equal(st.summary, "cgroup v2 hybrid, hooks ok, iterators tcp udp");
	/* a full summary is cut, never overrun */
	for (int i = 0; i < 100; i++)
		status_summary_add(&st, "termination: some-method");
	assert_true(strlen(st.summary) < sizeof(st.summary));
}

static void test_verdict(void **state)
{
	char verdict[256];

	(void)state;
	row("kernel", STATUS_OK, 0, "6.18", "", NULL);
	assert_true(status_verdict(&st, verdict, sizeof(verdict)));
	assert_string_equal(verdict, "socklb can run here");

	/* what is limited is named, in order; it does not stop socklb */
	row("iter/bpf_sk_storage_map", STATUS_LIMITED, -EPERM, "refused: EPERM", "",
	    "loading: Operation not permitted");
	row("CAP_SYS_PTRACE", STATUS_LIMITED, 0, "no", "", NULL);
	assert_true(status_verdict(&st, verdict, sizeof(verdict)));
	assert_string_equal(verdict, "socklb can run here; limited: iter/bpf_sk_storage_map, CAP_SYS_PTRACE");

	/* a must-have this process cannot probe: no claim either way */
	row("cgroup/connect4", STATUS_UNKNOWN, -EPERM, "EPERM, lacks CAP_NET_ADMIN", "", NULL);
	assert_false(status_verdict(&st, verdict, sizeof(verdict)));
	assert_string_equal(verdict, "cannot tell whether socklb can run here: cgroup/connect4: EPERM, lacks "
				     "CAP_NET_ADMIN (run it as root)");

	/* the first blocking row decides, whatever comes before or after */
	row("cgroup v2", STATUS_BLOCKING, -ENOENT, "legacy-only: no cgroup2 mount", "", NULL);
	row("datapath", STATUS_BLOCKING, -EINVAL, "refused: EINVAL", "", NULL);
	assert_false(status_verdict(&st, verdict, sizeof(verdict)));
	assert_string_equal(verdict, "socklb cannot run here: cgroup v2: legacy-only: no cgroup2 mount");

	/* a short buffer is cut, never overrun */
	assert_false(status_verdict(&st, verdict, 10));
	assert_string_equal(verdict, "socklb ca");
}

static void test_rows(void **state)
{
	size_t i;

	(void)state;
	/* the probe's words are kept only when it failed */
	assert_non_null(status_add(&st, "ok", STATUS_OK, 0, "unused"));
	assert_string_equal(st.rows[0].detail, "");
	/* a full table refuses more rows instead of overrunning */
	for (i = st.n; i < STATUS_MAX_ROWS; i++)
		assert_non_null(status_add(&st, "x", STATUS_OK, 0, NULL));
	assert_null(status_add(&st, "one too many", STATUS_OK, 0, NULL));
	assert_int_equal(st.n, STATUS_MAX_ROWS);
}

static void test_text(void **state)
{
	char *text;

	(void)state;
	row("cgroup v2", STATUS_OK, 0, "hybrid, at /sys/fs/cgroup/unified", "pods' cgroups are looked up there", NULL);
	row("iter/bpf_sk_storage_map", STATUS_LIMITED, -EPERM, "refused: EPERM", "records cannot be walked",
	    "loading an iter/bpf_sk_storage_map program: Operation not permitted");
	text = print_text(false);
	/* columns as wide as their widest cell, two spaces apart; the verdict last */
	assert_string_equal(
		text, "ITEM                     RESULT                             CONSEQUENCE\n"
		      "cgroup v2                hybrid, at /sys/fs/cgroup/unified  pods' cgroups are looked up there\n"
		      "iter/bpf_sk_storage_map  refused: EPERM                     records cannot be walked\n"
		      "socklb can run here; limited: iter/bpf_sk_storage_map\n");
	free(text);
	/* -v: a failed probe's own words under its row */
	text = print_text(true);
	assert_non_null(strstr(text,
			       "iter/bpf_sk_storage_map  refused: EPERM                     records cannot be walked\n"
			       "                         loading an iter/bpf_sk_storage_map program: Operation not "
			       "permitted\n"));
	free(text);
}

static void test_json(void **state)
{
	cJSON *doc, *items, *it;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	(void)state;
	row("cgroup v2", STATUS_OK, 0, "unified, at /sys/fs/cgroup", "looked up there", NULL);
	row("datapath", STATUS_BLOCKING, -EINVAL, "refused: EINVAL", "opted-in pods' ADD fails",
	    "loading the datapath: Invalid argument");
	row("x\"y", STATUS_UNKNOWN, -EPERM, "EPERM", "", NULL);
	status_summary_add(&st, "cgroup v2 unified");
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(status_print_json(&st, out), 0);
	fclose(out);

	doc = cJSON_Parse(buf);
	assert_non_null(doc);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "canRun")));
	assert_string_equal(cJSON_GetObjectItem(doc, "verdict")->valuestring,
			    "socklb cannot run here: datapath: refused: EINVAL");
	assert_string_equal(cJSON_GetObjectItem(doc, "summary")->valuestring, "cgroup v2 unified");
	items = cJSON_GetObjectItem(doc, "items");
	assert_int_equal(cJSON_GetArraySize(items), 3);

	it = cJSON_GetArrayItem(items, 0);
	assert_string_equal(cJSON_GetObjectItem(it, "item")->valuestring, "cgroup v2");
	assert_string_equal(cJSON_GetObjectItem(it, "status")->valuestring, "ok");
	assert_string_equal(cJSON_GetObjectItem(it, "result")->valuestring, "unified, at /sys/fs/cgroup");
	assert_string_equal(cJSON_GetObjectItem(it, "consequence")->valuestring, "looked up there");
	/* no errno, no detail on a row that found what it probed */
	assert_null(cJSON_GetObjectItem(it, "errno"));
	assert_null(cJSON_GetObjectItem(it, "detail"));

	it = cJSON_GetArrayItem(items, 1);
	assert_string_equal(cJSON_GetObjectItem(it, "status")->valuestring, "blocking");
	assert_string_equal(cJSON_GetObjectItem(it, "errno")->valuestring, "EINVAL");
	assert_string_equal(cJSON_GetObjectItem(it, "detail")->valuestring, "loading the datapath: Invalid argument");

	it = cJSON_GetArrayItem(items, 2);
	assert_string_equal(cJSON_GetObjectItem(it, "item")->valuestring, "x\"y");
	assert_string_equal(cJSON_GetObjectItem(it, "status")->valuestring, "unknown");
	assert_string_equal(cJSON_GetObjectItem(it, "errno")->valuestring, "EPERM");
	cJSON_Delete(doc);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_summary, setup), cmocka_unit_test_setup(test_verdict, setup),
		cmocka_unit_test_setup(test_rows, setup),    cmocka_unit_test_setup(test_text, setup),
		cmocka_unit_test_setup(test_json, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
