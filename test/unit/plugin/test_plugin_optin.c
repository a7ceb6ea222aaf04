// SPDX-License-Identifier: Apache-2.0
/* The opt-in matrix: pod annotation x config namespaces x the daemon's namespace map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "optin.h"

/* The fake namespace map: "mapped" is opted in; "broken" cannot be read. */
static int map_lookups;

static int fake_map(const char *ns, void *ctx)
{
	(void)ctx;
	map_lookups++;
	if (strcmp(ns, "broken") == 0)
		return -EIO;
	return strcmp(ns, "mapped") == 0;
}

static bool decide(const char *annotation, const char *ns, const char *const *list, size_t n)
{
	struct optin_input in = {
		.pod_annotation = annotation,
		.pod_namespace = ns,
		.config_namespaces = list,
		.config_namespaces_count = n,
		.namespace_lookup = fake_map,
	};
	struct optin_decision d;

	assert_int_equal(optin_decide(&in, &d), 0);
	assert_true(d.why[0] != '\0');
	return d.enabled;
}

static const char *const listed[] = { "team-a", "team-b" };
static const char *const all[] = { "*" };

static void test_annotation_overrides(void **state)
{
	(void)state;
	/* "true" opts in whatever the namespace says; "false" opts out likewise. */
	assert_true(decide("true", "other", NULL, 0));
	assert_true(decide("true", NULL, NULL, 0));
	assert_false(decide("false", "team-a", listed, 2));
	assert_false(decide("false", "x", all, 1));
	assert_false(decide("false", "mapped", NULL, 0));
}

static void test_config_namespaces(void **state)
{
	(void)state;
	assert_true(decide(NULL, "team-a", listed, 2));
	assert_true(decide(NULL, "team-b", listed, 2));
	assert_false(decide(NULL, "team-c", listed, 2));
	assert_true(decide(NULL, "anything", all, 1));
	/* "*" covers a pod whose namespace the runtime did not say. */
	assert_true(decide(NULL, NULL, all, 1));
	assert_false(decide(NULL, NULL, listed, 2));
}

static void test_namespace_map(void **state)
{
	(void)state;
	assert_true(decide(NULL, "mapped", NULL, 0));
	assert_false(decide(NULL, "unmapped", NULL, 0));
	assert_true(decide(NULL, "mapped", listed, 2));
}

static void test_map_read_only_when_needed(void **state)
{
	(void)state;
	map_lookups = 0;
	decide("true", "mapped", NULL, 0);
	decide("false", "mapped", NULL, 0);
	decide(NULL, "team-a", listed, 2);
	decide(NULL, "x", all, 1);
	decide(NULL, NULL, NULL, 0);
	assert_int_equal(map_lookups, 0);
	decide(NULL, "team-c", listed, 2);
	assert_int_equal(map_lookups, 1);
}

static void test_other_annotation_values_decide_nothing(void **state)
{
	struct optin_input in = { .pod_annotation = "yes", .pod_namespace = "team-a" };
	struct optin_decision d;

	(void)state;
	assert_true(decide("True", "team-a", listed, 2));
	assert_false(decide("yes", "team-c", listed, 2));
	assert_true(decide("", "mapped", NULL, 0));
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_false(d.enabled);
	assert_non_null(strstr(d.why, "ignored"));
}

static void test_map_error(void **state)
{
	struct optin_input in = { .pod_namespace = "broken", .namespace_lookup = fake_map };
	struct optin_decision d;

	(void)state;
	assert_int_equal(optin_decide(&in, &d), -EIO);
	/* ...unless something before the map decided. */
	in.pod_annotation = "true";
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_true(d.enabled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_annotation_overrides),
		cmocka_unit_test(test_config_namespaces),
		cmocka_unit_test(test_namespace_map),
		cmocka_unit_test(test_map_read_only_when_needed),
		cmocka_unit_test(test_other_annotation_values_decide_nothing),
		cmocka_unit_test(test_map_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
