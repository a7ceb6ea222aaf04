// SPDX-License-Identifier: Apache-2.0
/* CNI version negotiation: supported versions, comparison, per-verb minimums, VERSION output. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cni_error.h"
#include "cni_version.h"
#include "verbs.h"

static void test_supported(void **state)
{
	static const char *const yes[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
	static const char *const no[] = { "0.1.0", "0.2.0", "1.2.0", "2.0.0", "1.0", "v1.0.0", "", "1.0.0 " };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(cni_version_supported(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(cni_version_supported(no[i]));
	assert_int_equal(cni_supported_versions_count, 5);
	assert_string_equal(cni_supported_versions_text(), "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
}

static void test_compare(void **state)
{
	int err;

	(void)state;
	assert_true(cni_version_compare("0.3.1", "0.4.0", &err) < 0);
	assert_int_equal(err, 0);
	assert_true(cni_version_compare("1.1.0", "1.0.0", &err) > 0);
	assert_int_equal(cni_version_compare("1.0.0", "1.0.0", &err), 0);
	/* Numeric, not lexical. */
	assert_true(cni_version_compare("0.10.0", "0.9.0", &err) > 0);
	cni_version_compare("1.0", "1.0.0", &err);
	assert_int_equal(err, -EINVAL);
	cni_version_compare("1.0.0", "x.y.z", &err);
	assert_int_equal(err, -EINVAL);

	assert_true(cni_version_at_least("1.1.0", "1.1.0"));
	assert_false(cni_version_at_least("1.0.0", "1.1.0"));
	assert_false(cni_version_at_least("garbage", "0.3.0"));
}

/* Which spec version introduced each verb: older configs must not use it. */
static void test_verb_minimums(void **state)
{
	(void)state;
	assert_string_equal(cni_verb_find("ADD")->since, "0.3.0");
	assert_string_equal(cni_verb_find("DEL")->since, "0.3.0");
	assert_string_equal(cni_verb_find("CHECK")->since, "0.4.0");
	assert_string_equal(cni_verb_find("GC")->since, "1.1.0");
	assert_string_equal(cni_verb_find("STATUS")->since, "1.1.0");
	assert_false(cni_verb_find("VERSION")->reads_config);
	assert_null(cni_verb_find("add"));
	assert_null(cni_verb_find("UPDATE"));
	/* DEL works without a netns; ADD and CHECK need one. */
	assert_false(cni_verb_find("DEL")->needs & NEED_NETNS);
	assert_true(cni_verb_find("ADD")->needs & NEED_NETNS);
	assert_int_equal(cni_verb_find("GC")->needs, 0);
}

static void test_version_answer(void **state)
{
	char *text = cni_version_json("0.4.0");
	cJSON *doc, *list;

	(void)state;
	assert_non_null(text);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "cniVersion")->valuestring, "0.4.0");
	list = cJSON_GetObjectItemCaseSensitive(doc, "supportedVersions");
	assert_int_equal(cJSON_GetArraySize(list), 5);
	assert_string_equal(cJSON_GetArrayItem(list, 4)->valuestring, "1.1.0");
	cJSON_Delete(doc);
	free(text);
}

static void test_version_verb_echoes_request(void **state)
{
	struct cni_request req = { 0 };
	struct cni_error err = { 0 };
	char stdin_text[] = "{\"cniVersion\":\"1.0.0\"}", *out;

	(void)state;
	req.stdin_text = stdin_text;
	req.stdin_len = strlen(stdin_text);
	assert_int_equal(verb_version(&req, &out, &err), 0);
	assert_non_null(strstr(out, "\"cniVersion\":\t\"1.0.0\""));
	free(out);
	/* No stdin: the latest. */
	req.stdin_text = NULL;
	req.stdin_len = 0;
	assert_int_equal(verb_version(&req, &out, &err), 0);
	assert_non_null(strstr(out, "\"cniVersion\":\t\"1.1.0\""));
	free(out);
}

static void test_error_json(void **state)
{
	struct cni_error err = { 0 };
	char *text;
	cJSON *doc;

	(void)state;
	assert_int_equal(
		cni_fail(&err, 7, "invalid network configuration: logLevel", "must be one of %s", "error, warn"), -1);
	/* The first error wins. */
	cni_fail(&err, 11, "later", NULL);
	text = cni_error_json(&err, "0.3.1");
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "cniVersion")->valuestring, "0.3.1");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(doc, "code")->valueint, 7);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "msg")->valuestring,
			    "invalid network configuration: logLevel");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "details")->valuestring,
			    "must be one of error, warn");
	cJSON_Delete(doc);
	free(text);

	assert_int_equal(cni_code_for_errno(-EAGAIN, 103), 11);
	assert_int_equal(cni_code_for_errno(-EBUSY, 103), 11);
	assert_int_equal(cni_code_for_errno(-EPERM, 103), 103);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supported),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_verb_minimums),
		cmocka_unit_test(test_version_answer),
		cmocka_unit_test(test_version_verb_echoes_request),
		cmocka_unit_test(test_error_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
