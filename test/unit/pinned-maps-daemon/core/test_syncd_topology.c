// SPDX-License-Identifier: Apache-2.0
/*
 * Which endpoints a Service's cluster IP gets, one row per case, with
 * kube-proxy 1.35 (pkg/proxy/topology.go, CategorizeEndpoints, and its table
 * test TestCategorizeEndpoints) as the reference: endpoint conditions,
 * hints.forNodes and hints.forZones, the daemon's node name and zone,
 * internalTrafficPolicy. Each row becomes one Service and one EndpointSlice in
 * the API's format, translated as the daemon translates them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "test_syncd_fixtures.h"
#include "translate.h"

/* Endpoint conditions as the EndpointSlice controller sets them. */
enum cond {
	R, /* ready (and serving, not terminating) */
	ST, /* serving and terminating: a pod in its graceful shutdown */
	T, /* terminating, no longer serving */
	U, /* not ready, not terminating: a pod starting or failing its probe */
	RT, /* ready and terminating: publishNotReadyAddresses keeps a terminating pod ready */
};

struct ep {
	const char *ip;
	enum cond cond;
	const char *node; /* nodeName; NULL: none */
	const char *for_nodes; /* hints.forNodes, names separated by spaces; NULL: none */
	const char *for_zones; /* hints.forZones, likewise */
};

#define MAX_EPS 6

struct row {
	const char *name;
	const char *zone; /* topology.kubernetes.io/zone of this node's Node; NULL: Node unknown */
	bool local; /* internalTrafficPolicy: Local (else Cluster) */
	struct ep eps[MAX_EPS];
	const char *want; /* the backends' addresses, sorted, separated by spaces */
};

/* The daemon runs on node-a; most rows put it in zone-a. */
#define NODE "node-a"

static const struct row rows[] = {
	/* internalTrafficPolicy: Cluster, no topology */
	{ "no hints: every ready endpoint",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-a" }, { "10.0.0.2", R, "node-b" }, { "10.0.0.3", U, "node-b" } },
	  "10.0.0.1 10.0.0.2" },
	{ "ready and terminating (publishNotReadyAddresses) counts as ready",
	  "zone-a",
	  false,
	  { { "10.0.0.1", RT, "node-b" }, { "10.0.0.2", ST, "node-a" } },
	  "10.0.0.1" },
	{ "no endpoints: none", "zone-a", false, { { NULL } }, "" },
	{ "neither ready nor serving-terminating: none",
	  "zone-a",
	  false,
	  { { "10.0.0.1", T, "node-a" }, { "10.0.0.2", U, "node-a" } },
	  "" },

	/* zone hints (PreferSameZone, PreferClose) */
	{ "zone hints on every ready endpoint, some for our zone: those",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-a", NULL, "zone-a" },
	    { "10.0.0.2", R, "node-b", NULL, "zone-b" },
	    { "10.0.0.3", R, "node-c", NULL, "zone-c" },
	    { "10.0.0.4", R, "node-d", NULL, "zone-a" } },
	  "10.0.0.1 10.0.0.4" },
	{ "an endpoint hinted for several zones serves each",
	  "zone-c",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a zone-b zone-c" },
	    { "10.0.0.2", R, NULL, NULL, "zone-b zone-c" },
	    { "10.0.0.3", R, NULL, NULL, "zone-b zone-d" },
	    { "10.0.0.4", R, NULL, NULL, "zone-c" } },
	  "10.0.0.1 10.0.0.2 10.0.0.4" },
	{ "zone hints, none for our zone: every ready endpoint",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-b" }, { "10.0.0.2", R, NULL, NULL, "zone-c" } },
	  "10.0.0.1 10.0.0.2" },
	{ "one ready endpoint without zone hints: hints ignored",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a" },
	    { "10.0.0.2", R, NULL, NULL, "zone-b" },
	    { "10.0.0.3", R, NULL, NULL, NULL } },
	  "10.0.0.1 10.0.0.2 10.0.0.3" },
	{ "an endpoint without hints that is not ready does not count",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a" },
	    { "10.0.0.2", R, NULL, NULL, "zone-b" },
	    { "10.0.0.3", U, NULL, NULL, NULL } },
	  "10.0.0.1" },
	{ "only not-ready endpoints for our zone: every ready endpoint",
	  "zone-a",
	  false,
	  { { "10.0.0.1", U, NULL, NULL, "zone-a" },
	    { "10.0.0.2", R, NULL, NULL, "zone-b" },
	    { "10.0.0.3", R, NULL, NULL, "zone-c" } },
	  "10.0.0.2 10.0.0.3" },
	{ "a not-ready endpoint for our zone is not used when ready ones are",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a" },
	    { "10.0.0.2", R, NULL, NULL, "zone-b" },
	    { "10.0.0.3", U, NULL, NULL, "zone-a" } },
	  "10.0.0.1" },
	{ "Node unknown (no zone): zone hints ignored",
	  NULL,
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a" }, { "10.0.0.2", R, NULL, NULL, "zone-b" } },
	  "10.0.0.1 10.0.0.2" },
	{ "Node's zone label empty: zone hints ignored",
	  "",
	  false,
	  { { "10.0.0.1", R, NULL, NULL, "zone-a" }, { "10.0.0.2", R, NULL, NULL, "zone-b" } },
	  "10.0.0.1 10.0.0.2" },

	/* node hints (PreferSameNode), zone hints as their fallback */
	{ "node hints on every ready endpoint, one for this node: that one",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-a", "node-a", "zone-a" },
	    { "10.0.0.2", R, "node-b", "node-b", "zone-a" },
	    { "10.0.0.3", R, "node-c", "node-c", "zone-b" } },
	  "10.0.0.1" },
	{ "node hints count, not nodeName",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-b", "node-a" }, { "10.0.0.2", R, "node-a", "node-b" } },
	  "10.0.0.1" },
	{ "an endpoint hinted for several nodes serves each",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, NULL, "node-a node-b" },
	    { "10.0.0.2", R, NULL, "node-a" },
	    { "10.0.0.3", R, NULL, "node-c" } },
	  "10.0.0.1 10.0.0.2" },
	{ "node hints, none for this node: zone hints",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-b", "node-b", "zone-a" },
	    { "10.0.0.2", R, "node-c", "node-c", "zone-b" },
	    { "10.0.0.3", R, "node-d", "node-d", "zone-a" } },
	  "10.0.0.1 10.0.0.3" },
	{ "node hints, none for this node, no zone hints: every ready endpoint",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-b", "node-b" }, { "10.0.0.2", R, "node-c", "node-c" } },
	  "10.0.0.1 10.0.0.2" },
	{ "one ready endpoint without node hints: zone hints",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-a", "node-a", "zone-a" },
	    { "10.0.0.2", R, "node-b", NULL, "zone-b" },
	    { "10.0.0.3", R, "node-c", "node-c", "zone-a" } },
	  "10.0.0.1 10.0.0.3" },
	{ "node hint for this node only on a not-ready endpoint: zone hints",
	  "zone-a",
	  false,
	  { { "10.0.0.1", U, "node-a", "node-a", "zone-a" },
	    { "10.0.0.2", R, "node-b", "node-b", "zone-a" },
	    { "10.0.0.3", R, "node-c", "node-c", "zone-b" } },
	  "10.0.0.2" },
	{ "Node unknown: node hints still apply (they name the node)",
	  NULL,
	  false,
	  { { "10.0.0.1", R, "node-a", "node-a", "zone-a" }, { "10.0.0.2", R, "node-b", "node-b", "zone-a" } },
	  "10.0.0.1" },

	/* serving-terminating fallback */
	{ "no ready endpoint: serving and terminating ones, hints ignored",
	  "zone-a",
	  false,
	  { { "10.0.0.1", ST, "node-b", "node-b", "zone-b" },
	    { "10.0.0.2", ST, "node-c", "node-c", "zone-c" },
	    { "10.0.0.3", ST, "node-a", "node-a", "zone-a" },
	    { "10.0.0.4", T, "node-a", "node-a", "zone-a" },
	    { "10.0.0.5", U, "node-a", "node-a", "zone-a" } },
	  "10.0.0.1 10.0.0.2 10.0.0.3" },
	{ "ready endpoints elsewhere win over a serving-terminating one for us",
	  "zone-a",
	  false,
	  { { "10.0.0.1", R, "node-b", "node-b", "zone-b" },
	    { "10.0.0.2", R, "node-c", "node-c", "zone-c" },
	    { "10.0.0.3", ST, "node-a", "node-a", "zone-a" } },
	  "10.0.0.1 10.0.0.2" },

	/* internalTrafficPolicy: Local */
	{ "Local: this node's ready endpoints, never remote ones",
	  "zone-a",
	  true,
	  { { "10.0.0.1", R, "node-a" }, { "10.0.0.2", R, "node-b" }, { "10.0.0.3", R, NULL } },
	  "10.0.0.1" },
	{ "Local: hints ignored",
	  "zone-a",
	  true,
	  { { "10.0.0.1", R, "node-a", "node-b", "zone-b" },
	    { "10.0.0.2", R, "node-a", "node-a", "zone-a" },
	    { "10.0.0.3", R, "node-b", "node-a", "zone-a" } },
	  "10.0.0.1 10.0.0.2" },
	{ "Local: ready local ones before serving-terminating local ones",
	  "zone-a",
	  true,
	  { { "10.0.0.1", R, "node-a" }, { "10.0.0.2", ST, "node-a" } },
	  "10.0.0.1" },
	{ "Local: no local ready one: local serving-terminating ones, not remote ready ones",
	  "zone-a",
	  true,
	  { { "10.0.0.1", ST, "node-a" }, { "10.0.0.2", R, "node-b" }, { "10.0.0.3", T, "node-a" } },
	  "10.0.0.1" },
	{ "Local: only remote endpoints: none (connections refused)",
	  "zone-a",
	  true,
	  { { "10.0.0.1", R, "node-b", "node-a", "zone-a" }, { "10.0.0.2", ST, "node-b" } },
	  "" },
	{ "Local: local ones neither ready nor serving-terminating: none",
	  "zone-a",
	  true,
	  { { "10.0.0.1", T, "node-a" }, { "10.0.0.2", U, "node-a" }, { "10.0.0.3", R, "node-b" } },
	  "" },
};

static void add_hints(cJSON *hints, const char *field, const char *names)
{
	cJSON *list = cJSON_AddArrayToObject(hints, field);
	char *copy = strdup(names), *save = NULL;

	for (char *n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		cJSON *h = cJSON_CreateObject();

		cJSON_AddStringToObject(h, "name", n);
		cJSON_AddItemToArray(list, h);
	}
	free(copy);
}

static cJSON *endpoint_json(const struct ep *e)
{
	static const bool flags[][3] = {
		/* ready, serving, terminating */
		[R] = { true, true, false },   [ST] = { false, true, true }, [T] = { false, false, true },
		[U] = { false, false, false }, [RT] = { true, true, true },
	};
	cJSON *ep = cJSON_CreateObject();
	cJSON *cond = cJSON_AddObjectToObject(ep, "conditions");

	cJSON_AddItemToObject(ep, "addresses", cJSON_CreateStringArray(&e->ip, 1));
	cJSON_AddBoolToObject(cond, "ready", flags[e->cond][0]);
	cJSON_AddBoolToObject(cond, "serving", flags[e->cond][1]);
	cJSON_AddBoolToObject(cond, "terminating", flags[e->cond][2]);
	if (e->node)
		cJSON_AddStringToObject(ep, "nodeName", e->node);
	if (e->for_nodes || e->for_zones) {
		cJSON *hints = cJSON_AddObjectToObject(ep, "hints");

		if (e->for_nodes)
			add_hints(hints, "forNodes", e->for_nodes);
		if (e->for_zones)
			add_hints(hints, "forZones", e->for_zones);
	}
	return ep;
}

static cJSON *slice_json(const struct row *r)
{
	cJSON *slice = cJSON_Parse("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
				   "\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\","
				   "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
				   "\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080,\"protocol\":\"TCP\"}]}");
	cJSON *eps = cJSON_AddArrayToObject(slice, "endpoints");

	for (size_t i = 0; i < MAX_EPS && r->eps[i].ip; i++)
		cJSON_AddItemToArray(eps, endpoint_json(&r->eps[i]));
	return slice;
}

static cJSON *service_json(const struct row *r)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
		 "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.1\",\"internalTrafficPolicy\":\"%s\","
		 "\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080}]}}",
		 r->local ? "Local" : "Cluster");
	return cJSON_Parse(text);
}

static cJSON *node_json(const struct row *r)
{
	cJSON *node;

	if (!r->zone)
		return NULL;
	node = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"" NODE "\"}}");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_GetObjectItem(node, "metadata"), "labels"),
				K8S_LABEL_ZONE, r->zone);
	return node;
}

/* The backends of the row's cluster IP, as "a b c"; NULL when translation failed. */
static char *translate_row(const struct row *r)
{
	const struct translate_config cfg = { .node_name = NODE, .service_proxy_name = "" };
	struct k8s_object *svc = from_cjson(K8S_SERVICE, service_json(r));
	struct k8s_object *slice = from_cjson(K8S_ENDPOINTSLICE, slice_json(r));
	cJSON *node_json_obj = node_json(r);
	struct k8s_object *node_obj = node_json_obj ? from_cjson(K8S_NODE, node_json_obj) : NULL;
	const struct k8s_slice *slices[] = { (const struct k8s_slice *)slice };
	struct service_frontends out;
	struct node_view node;
	char *got = NULL;
	size_t len = 0;
	FILE *f;

	node_view_init(&node, (const struct k8s_node *)node_obj);
	if (translate_service((const struct k8s_service *)svc, slices, 1, &node, &cfg, &out) == 0 && out.n == 1) {
		f = open_memstream(&got, &len);
		for (__u32 i = 0; i < out.items[0].n_backends; i++) {
			char ep[SOCKLB_ENDPOINT_STRLEN];

			socklb_endpoint_format(out.items[0].backends[i].addr, 0, ep, sizeof(ep));
			*strrchr(ep, ':') = '\0';
			fprintf(f, "%s%s", i ? " " : "", ep);
		}
		fclose(f);
	}
	service_frontends_release(&out);
	k8s_object_free(node_obj);
	k8s_object_free(slice);
	k8s_object_free(svc);
	return got;
}

static void test_endpoint_selection(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got = translate_row(&rows[i]);

		if (!got || strcmp(got, rows[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", rows[i].name, got ? got : "(translation failed)",
				    rows[i].want);
			failed++;
		}
		free(got);
	}
	assert_int_equal(failed, 0);
}

/* Hints that are not what the API allows make the slice invalid, naming the field. */
static void test_malformed_hints(void **state)
{
	static const struct {
		const char *hints;
		const char *why;
	} bad[] = {
		{ "[]", "endpoints[0].hints is not an object" },
		{ "{\"forNodes\":\"node-a\"}", "endpoints[0].hints.forNodes is not a list" },
		{ "{\"forNodes\":[{}]}", "endpoints[0].hints.forNodes[] needs a name" },
		{ "{\"forZones\":{\"name\":\"zone-a\"}}", "endpoints[0].hints.forZones is not a list" },
		{ "{\"forZones\":[{\"name\":7}]}", "endpoints[0].hints.forZones[] needs a name" },
	};
	const struct row ok = { "", "zone-a", false, { { "10.0.0.1", R, "node-a", "node-a", "zone-a" } }, "" };
	const struct translate_config cfg = { .node_name = NODE, .service_proxy_name = "" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct k8s_object *svc = from_cjson(K8S_SERVICE, service_json(&ok));
		cJSON *json = slice_json(&ok);
		cJSON *ep = cJSON_GetArrayItem(cJSON_GetObjectItem(json, "endpoints"), 0);
		struct k8s_object *slice;
		const struct k8s_slice *slices[1];
		struct service_frontends out;
		struct node_view node;

		cJSON_ReplaceItemInObject(ep, "hints", cJSON_Parse(bad[i].hints));
		slice = from_cjson(K8S_ENDPOINTSLICE, json);
		slices[0] = (const struct k8s_slice *)slice;
		node_view_init(&node, NULL);
		assert_int_equal(translate_service((const struct k8s_service *)svc, slices, 1, &node, &cfg, &out),
				 -EINVAL);
		assert_int_equal(out.invalid.n, 1);
		assert_string_equal(out.invalid.items[0].why, bad[i].why);
		service_frontends_release(&out);
		k8s_object_free(slice);
		k8s_object_free(svc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_selection),
		cmocka_unit_test(test_malformed_hints),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
