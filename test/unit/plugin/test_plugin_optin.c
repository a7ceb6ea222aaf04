// SPDX-License-Identifier: Apache-2.0
/*
 * The opt-in decision, one row per case: pod annotation x sidecar mark x the
 * namespace's annotation (the daemon's namespace map) x the config's
 * namespaces list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "optin.h"

/* The fake namespace map: "ns-in" annotated "true", "ns-out" "false", "broken" unreadable, others absent. */
static int map_lookups;

static int fake_map(const char *ns, void *ctx)
{
	(void)ctx;
	map_lookups++;
	if (strcmp(ns, "broken") == 0)
		return -EIO;
	if (strcmp(ns, "ns-in") == 0)
		return NAMESPACE_OPTED_IN;
	if (strcmp(ns, "ns-out") == 0)
		return NAMESPACE_OPTED_OUT;
	return NAMESPACE_UNSET;
}

#define ISTIO "sidecar.istio.io/status"

struct row {
	const char *name;
	const char *pod; /* the pod's opt-in annotation; NULL: absent */
	const char *sidecar; /* its sidecar mark; NULL: none */
	const char *ns; /* its namespace; NULL: the runtime did not say */
	const char *list; /* the config's namespaces, separated by spaces; NULL: none */
	bool want;
	bool reads_map;
};

static const struct row rows[] = {
	/* 1. the pod's own annotation */
	{ "pod true", "true", NULL, "other", NULL, true, false },
	{ "pod true beats a sidecar and a namespace annotated false", "true", ISTIO, "ns-out", "*", true, false },
	{ "pod true without a namespace", "true", NULL, NULL, NULL, true, false },
	{ "pod false beats the config's list", "false", NULL, "team-a", "team-a team-b", false, false },
	{ "pod false beats \"*\"", "false", NULL, "x", "*", false, false },
	{ "pod false beats a namespace annotated true", "false", NULL, "ns-in", NULL, false, false },

	/* 2. a sidecar: namespace-wide opt-in does not cover it */
	{ "sidecar in a namespace annotated true", NULL, ISTIO, "ns-in", NULL, false, false },
	{ "sidecar under \"*\"", NULL, "linkerd.io/proxy-version", "x", "*", false, false },
	{ "sidecar in a listed namespace", NULL, ISTIO, "team-a", "team-a", false, false },
	{ "sidecar with a pod annotation that says nothing", "yes", ISTIO, "ns-in", NULL, false, false },

	/* 3. the namespace's annotation, from the map */
	{ "namespace false beats \"*\"", NULL, NULL, "ns-out", "*", false, true },
	{ "namespace false beats the list naming it", NULL, NULL, "ns-out", "ns-out", false, true },
	{ "namespace true", NULL, NULL, "ns-in", NULL, true, true },
	{ "namespace true, not in the list", NULL, NULL, "ns-in", "team-a", true, true },

	/* 4. the config's list */
	{ "listed namespace", NULL, NULL, "team-a", "team-a team-b", true, true },
	{ "unlisted namespace", NULL, NULL, "team-c", "team-a team-b", false, true },
	{ "\"*\"", NULL, NULL, "anything", "*", true, true },
	{ "\"*\" covers a pod whose namespace the runtime did not say", NULL, NULL, NULL, "*", true, false },
	{ "a list without \"*\" does not", NULL, NULL, NULL, "team-a", false, false },

	/* 5. nothing said */
	{ "nothing opts it in", NULL, NULL, "team-a", NULL, false, true },

	/* Other values of the pod annotation decide nothing, as Kubernetes booleans go. */
	{ "pod True: the list decides", "True", NULL, "team-a", "team-a", true, true },
	{ "pod yes: not listed", "yes", NULL, "team-c", "team-a", false, true },
	{ "pod \"\": the namespace decides", "", NULL, "ns-in", NULL, true, true },
	{ "pod yes: namespace false beats \"*\"", "yes", NULL, "ns-out", "*", false, true },
};

/* "a b" -> { "a", "b" }; *n set. Free the first element, then the array. */
static const char **split(const char *list, size_t *n)
{
	const char **out = calloc(8, sizeof(*out));
	char *copy = list ? strdup(list) : NULL, *save = NULL;

	*n = 0;
	for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save))
		out[(*n)++] = w;
	if (!*n)
		free(copy);
	return out;
}

static void test_decisions(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		size_t n;
		const char **list = split(r->list, &n);
		struct optin_input in = {
			.pod_annotation = r->pod,
			.sidecar_mark = r->sidecar,
			.pod_namespace = r->ns,
			.config_namespaces = list,
			.config_namespaces_count = n,
			.namespace_lookup = fake_map,
		};
		struct optin_decision d = { 0 };

		map_lookups = 0;
		if (optin_decide(&in, &d) != 0 || d.enabled != r->want || (map_lookups > 0) != r->reads_map ||
		    !d.why[0]) {
			print_error("%s: %s (map %s read): %s\n", r->name, d.enabled ? "in" : "out",
				    map_lookups ? "was" : "not", d.why);
			failed++;
		}
		if (n)
			free((void *)list[0]);
		free(list);
	}
	assert_int_equal(failed, 0);
}

/* The log line says which rule decided. */
static void test_why(void **state)
{
	struct optin_input in = { .pod_annotation = "yes", .pod_namespace = "team-a" };
	struct optin_decision d;

	(void)state;
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_false(d.enabled);
	assert_non_null(strstr(d.why, "ignored"));
	in = (struct optin_input){ .sidecar_mark = ISTIO, .pod_namespace = "ns-in", .namespace_lookup = fake_map };
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_non_null(strstr(d.why, ISTIO));
	in = (struct optin_input){ .pod_namespace = "ns-out", .namespace_lookup = fake_map };
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_non_null(strstr(d.why, "annotated \"false\""));
}

static void test_map_error(void **state)
{
	static const char *const all[] = { "*" };
	struct optin_input in = { .pod_namespace = "broken", .namespace_lookup = fake_map };
	struct optin_decision d;

	(void)state;
	assert_int_equal(optin_decide(&in, &d), -EIO);
	/* The map may say "false": "*" does not decide without it. */
	in.config_namespaces = all;
	in.config_namespaces_count = 1;
	assert_int_equal(optin_decide(&in, &d), -EIO);
	/* ...unless something before the map decided. */
	in.sidecar_mark = ISTIO;
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_false(d.enabled);
	in.pod_annotation = "true";
	assert_int_equal(optin_decide(&in, &d), 0);
	assert_true(d.enabled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_map_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
