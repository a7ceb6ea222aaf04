// SPDX-License-Identifier: Apache-2.0
/*
 * Translation rules (kube-proxy semantics) over real-format objects in
 * test/fixtures/k8s: each test loads fixtures and compares the whole desired
 * state with its expected frontend -> backends table. The daemon's node is
 * node-a in zone-a (fixtures/k8s/node.json).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "k8s_object.h"
#include "log.h"
#include "test_syncd_fixtures.h"

static const struct translate_config node_a = { .node_name = "node-a", .service_proxy_name = "" };

/* Load the fixtures, translate everything, return the table. */
static char *translate_fixtures(const struct translate_config *cfg, const char *const *names)
{
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(cfg);
	struct desired_update u;
	char *table;

	assert_non_null(s);
	assert_non_null(d);
	assert_int_equal(load_fixtures(s, names), 0);
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, &u), 0);
	store_unlock(s);
	desired_update_release(&u);
	table = desired_table(d);
	desired_state_free(d);
	store_free(s);
	return table;
}

#define EXPECT_TABLE(cfg, expected, ...)                            \
	do {                                                        \
		const char *const names_[] = { __VA_ARGS__, NULL }; \
		char *table_ = translate_fixtures(cfg, names_);     \
		assert_string_equal(table_, expected);              \
		free(table_);                                       \
	} while (0)

/* Named ports, the unnamed port "", slice port = target port, one frontend per service port. */
static void test_basic(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.0.10:53/TCP -> 10.244.1.5:53,10.244.2.7:53\n"
		     "10.96.0.10:53/UDP -> 10.244.1.5:53,10.244.2.7:53\n"
		     "10.96.0.10:9153/TCP -> 10.244.1.5:9153,10.244.2.7:9153\n"
		     "10.96.10.20:80/TCP -> 10.244.1.21:8080,10.244.2.22:8080,10.244.3.23:8080\n",
		     "node.json", "basic.json");
}

/* Headless, ExternalName, another proxy's services, the headless label, SCTP ports and FQDN slices. */
static void test_skipped_services(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a, "10.96.20.3:3868/TCP -> 10.244.1.60:3868\n", "node.json", "skip.json");
}

/* --service-proxy-name N: only the services labelled N. */
static void test_service_proxy_name(void **state)
{
	const struct translate_config other = { .node_name = "node-a", .service_proxy_name = "other-proxy" };

	(void)state;
	EXPECT_TABLE(&other, "10.96.20.1:80/TCP -> 10.244.1.50:80\n", "node.json", "skip.json", "basic.json");
}

/* Service and slice ports match by name and protocol; no match gives no backends. */
static void test_port_matching(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.30.1:80/TCP -> 10.244.1.70:8080,10.244.2.71:8080\n"
		     "10.96.30.1:8443/TCP -> (none)\n"
		     "10.96.30.1:9000/TCP -> 10.244.1.70:9090,10.244.2.71:9090\n"
		     "10.96.30.1:9100/UDP -> (none)\n",
		     "node.json", "ports.json");
}

/* Every slice labelled with the service's name in its namespace, merged and deduped; others ignored. */
static void test_merge_and_dedupe(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.40.1:80/TCP -> 10.244.1.80:8080,10.244.2.81:8080,10.244.3.82:8080,10.244.3.83:8081\n",
		     "node.json", "merge.json");
}

/* Missing conditions mean ready; terminating endpoints only when nothing is ready; no endpoints: none. */
static void test_conditions(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.50.1:80/TCP -> 10.244.1.100:8080,10.244.1.101:8080,10.244.1.102:8080\n"
		     "10.96.50.2:80/TCP -> 10.244.2.110:8080,10.244.2.112:8080\n"
		     "10.96.50.3:80/TCP -> (none)\n"
		     "10.96.50.4:80/TCP -> (none)\n"
		     "10.96.50.5:80/TCP -> (none)\n",
		     "node.json", "conditions.json");
}

/* internalTrafficPolicy Local: this node's endpoints only (ready, else serving+terminating), never remote. */
static void test_internal_traffic_policy_local(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.60.1:53/UDP -> 10.244.1.130:53\n"
		     "10.96.60.2:4317/TCP -> 10.244.1.140:4317\n"
		     "10.96.60.3:4318/TCP -> (none)\n",
		     "node.json", "local.json");
}

/*
 * kube-proxy's sync_proxy_rules_no_local_endpoints_total: Local frontends
 * whose Service has endpoints, none on this node; one without any endpoint
 * is not counted (its connects are refused as for any Service without one).
 */
static void test_no_local_endpoints_count(void **state)
{
	const char *const names[] = { "node.json", "local.json", "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, &u), 0);
	store_unlock(s);
	desired_update_release(&u);
	assert_int_equal(desired_state_no_local_endpoints(d, 4), 1); /* monitoring/remote-only */
	assert_int_equal(desired_state_no_local_endpoints(d, 6), 0);

	assert_int_equal(store_delete(s, K8S_ENDPOINTSLICE, "monitoring", "remote-only-1"), 0);
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, &u), 0);
	store_unlock(s);
	desired_update_release(&u);
	assert_int_equal(desired_state_no_local_endpoints(d, 4), 0);

	assert_int_equal(store_delete(s, K8S_SERVICE, "monitoring", "remote-only"), 0);
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, &u), 0);
	store_unlock(s);
	desired_update_release(&u);
	assert_int_equal(desired_state_no_local_endpoints(d, 4), 0);
	desired_state_free(d);
	store_free(s);
}

/*
 * Hints apply only when every ready endpoint has them and one is for us: node
 * hints first, else zone hints (every case: test_syncd_topology.c).
 */
static void test_topology_hints(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.70.1:80/TCP -> 10.244.1.160:8080,10.244.2.162:8080\n"
		     "10.96.70.2:80/TCP -> 10.244.1.170:8080,10.244.2.171:8080\n"
		     "10.96.70.3:80/TCP -> 10.244.2.180:8080,10.244.3.181:8080\n"
		     "10.96.70.4:80/TCP -> 10.244.1.240:8080\n"
		     "10.96.70.5:80/TCP -> 10.244.2.245:8080\n",
		     "node.json", "topology.json");
}

/* Without the Node (or its zone label) zone hints are ignored; node hints name the node and still apply. */
static void test_topology_without_zone(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.70.1:80/TCP -> 10.244.1.160:8080,10.244.2.161:8080,10.244.2.162:8080\n"
		     "10.96.70.2:80/TCP -> 10.244.1.170:8080,10.244.2.171:8080\n"
		     "10.96.70.3:80/TCP -> 10.244.2.180:8080,10.244.3.181:8080\n"
		     "10.96.70.4:80/TCP -> 10.244.1.240:8080\n"
		     "10.96.70.5:80/TCP -> 10.244.2.245:8080,10.244.3.246:8080\n",
		     "topology.json");
}

/* sessionAffinity ClientIP: timeoutSeconds, 10800 when unset; None: no affinity. */
static void test_session_affinity(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.80.1:80/TCP affinity=10800 -> (none)\n"
		     "10.96.80.2:80/TCP affinity=60 -> (none)\n"
		     "10.96.80.3:80/TCP affinity=10800 -> (none)\n"
		     "10.96.80.4:80/TCP -> (none)\n",
		     "affinity.json");
}

/* clusterIPs of both families, each with backends of its own family; defaults of a minimal object. */
static void test_dual_stack(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.90.1:80/TCP -> 10.244.1.190:8080,10.244.2.191:8080\n"
		     "10.96.90.3:8080/TCP -> 10.244.3.200:8080\n"
		     "[2001:db8::7]:443/TCP -> [fd00:10:244:3::c0]:8443\n"
		     "[fd00:10:96::5a01]:80/TCP -> [fd00:10:244:1::be]:8080,[fd00:10:244:2::bf]:8080\n"
		     "[fd00:10:96::5a02]:443/TCP -> [fd00:10:244:3::c0]:8443\n",
		     "node.json", "dualstack.json");
}

/*
 * externalIPs, LoadBalancer ingress IPs (not ipMode Proxy, not hostnames, not
 * on a former LoadBalancer) and node ports on the Node's InternalIP and
 * ExternalIP addresses of the service's families; pod traffic to them uses
 * cluster-wide endpoints, as kube-proxy short-circuits it.
 */
static void test_external_frontends(void **state)
{
	(void)state;
	EXPECT_TABLE(&node_a,
		     "10.96.100.1:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "10.96.100.2:8080/UDP -> 10.244.1.220:8080\n"
		     "10.96.100.3:80/TCP -> (none)\n"
		     "192.168.10.11:30443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "192.168.10.11:31080/UDP -> 10.244.1.220:8080,10.244.2.221:8080\n"
		     "198.51.100.10:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "203.0.113.11:30443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "203.0.113.11:31080/UDP -> 10.244.1.220:8080,10.244.2.221:8080\n"
		     "203.0.113.50:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "203.0.113.51:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n",
		     "node.json", "external.json");
}

/* Node ports need the daemon's Node: without it only cluster, external and LB IPs. */
static void test_node_ports_need_node(void **state)
{
	const struct translate_config elsewhere = { .node_name = "node-z", .service_proxy_name = "" };

	(void)state;
	EXPECT_TABLE(&elsewhere,
		     "10.96.100.1:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "10.96.100.2:8080/UDP -> (none)\n"
		     "10.96.100.3:80/TCP -> (none)\n"
		     "198.51.100.10:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "203.0.113.50:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n"
		     "203.0.113.51:443/TCP -> 10.244.1.210:8443,10.244.2.211:8443\n",
		     "node.json", "external.json");
}

/* socklb.io/enabled "true" or "false" exactly, as an annotation: the namespace map's value; else no entry. */
static void test_namespace_opt_in(void **state)
{
	const char *const names[] = { "namespaces.json", NULL };
	struct store *s = store_new();
	static const struct {
		const char *name;
		bool annotated;
		__u32 value;
	} expect[] = {
		{ "shop", true, SOCKLB_NS_OPTED_IN }, { "edge", true, SOCKLB_NS_OPTED_OUT }, { "monitoring", false, 0 },
		{ "kube-system", false, 0 },	      { "labelled-only", false, 0 },	     { "maybe", false, 0 },
	};

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	store_lock(s);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const cJSON *ns = store_get(s, K8S_NAMESPACE, "", expect[i].name);
		__u32 value = 42;

		assert_non_null(ns);
		assert_int_equal(k8s_namespace_opt_in(ns, &value), expect[i].annotated);
		if (expect[i].annotated)
			assert_int_equal(value, expect[i].value);
	}
	store_unlock(s);
	store_free(s);
}

static char *update_table(struct desired_state *d, struct store *s, struct desired_update *u)
{
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, u), 0);
	store_unlock(s);
	return desired_table(d);
}

#define WEB_GOOD "10.96.10.20:80/TCP -> 10.244.1.21:8080,10.244.2.22:8080,10.244.3.23:8080\n"

static void set_number(cJSON *obj, const char *path0, int idx, const char *field, double v)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, path0);
	cJSON *item = cJSON_GetArrayItem(arr, idx);

	cJSON_ReplaceItemInObjectCaseSensitive(item, field, cJSON_CreateNumber(v));
}

/* A Service that turns malformed keeps its last good frontends; fixed, it is translated again. */
static void test_bad_service_keeps_last_good(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	char logged[1024] = "";
	cJSON *web;
	FILE *log;
	char *t;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	assert_non_null(strstr(t, WEB_GOOD));
	free(t);

	web = fixture_object("basic.json", K8S_SERVICE, "shop", "web");
	set_number(cJSON_GetObjectItemCaseSensitive(web, "spec"), "ports", 0, "port", 70000);
	assert_int_equal(store_upsert(s, K8S_SERVICE, cJSON_Duplicate(web, true)), 0);
	log = tmpfile();
	socklb_log_init("test", SOCKLB_LOG_WARN, log, false);
	t = update_table(d, s, &u);
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	rewind(log);
	assert_int_equal(fread(logged, 1, sizeof(logged) - 1, log) > 0, 1);
	fclose(log);
	/* The log names the kind, the object and the field, then what happens to its frontends. */
	assert_non_null(strstr(logged, "invalid Service shop/web: spec.ports[0].port is not a port number (1-65535)"));
	assert_non_null(strstr(logged, "Service shop/web: keeping its 1 last good frontends"));
	assert_int_equal(u.retranslated, 1);
	assert_int_equal(u.touched.n, 0);
	desired_update_release(&u);
	assert_non_null(strstr(t, WEB_GOOD));
	free(t);

	set_number(cJSON_GetObjectItemCaseSensitive(web, "spec"), "ports", 0, "port", 81);
	assert_int_equal(store_upsert(s, K8S_SERVICE, web), 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	assert_null(strstr(t, WEB_GOOD));
	assert_non_null(strstr(t, "10.96.10.20:81/TCP -> 10.244.1.21:8080"));
	free(t);
	desired_state_free(d);
	store_free(s);
}

/* A malformed EndpointSlice (an address that is not IPv4 in an IPv4 slice) keeps the service's last good state. */
static void test_bad_slice_keeps_last_good(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	cJSON *slice, *ep;
	char *t;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	free(t);
	slice = fixture_object("basic.json", K8S_ENDPOINTSLICE, "shop", "web-abcde");
	ep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(slice, "endpoints"), 1);
	cJSON_ReplaceItemInObjectCaseSensitive(ep, "addresses",
					       cJSON_CreateStringArray((const char *[]){ "fd00::1" }, 1));
	assert_int_equal(store_upsert(s, K8S_ENDPOINTSLICE, slice), 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	assert_non_null(strstr(t, WEB_GOOD));
	free(t);
	desired_state_free(d);
	store_free(s);
}

/* One endpoint change re-translates one service and touches only its frontends. */
static void test_incremental_update(void **state)
{
	const char *const names[] = { "node.json", "basic.json", "conditions.json", "external.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	cJSON *slice, *ep;
	char *t;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	t = update_table(d, s, &u);
	assert_int_equal(u.retranslated, 10);
	desired_update_release(&u);
	free(t);

	/* Nothing changed: nothing translated. */
	t = update_table(d, s, &u);
	assert_int_equal(u.retranslated, 0);
	assert_int_equal(u.touched.n, 0);
	desired_update_release(&u);
	free(t);

	slice = fixture_object("basic.json", K8S_ENDPOINTSLICE, "shop", "web-abcde");
	ep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(slice, "endpoints"), 2);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ep, "conditions"), "ready",
					       cJSON_CreateFalse());
	cJSON_AddItemToObject(
		cJSON_GetObjectItemCaseSensitive(slice, "metadata"), "annotations",
		cJSON_Parse("{\"endpoints.kubernetes.io/last-change-trigger-time\":\"2024-05-01T10:00:00Z\"}"));
	assert_int_equal(store_upsert(s, K8S_ENDPOINTSLICE, slice), 0);
	t = update_table(d, s, &u);
	assert_int_equal(u.retranslated, 1);
	/* Old and new claim of the one frontend. */
	assert_int_equal(u.touched.n, 2);
	desired_update_release(&u);
	assert_non_null(strstr(t, "10.96.10.20:80/TCP -> 10.244.1.21:8080,10.244.2.22:8080\n"));
	free(t);
	desired_state_free(d);
	store_free(s);
}

/* Two services claiming one external IP: the first by namespace/name wins; the other takes over when it goes. */
static void test_conflicting_claims(void **state)
{
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	const char *owner;
	struct socklb_frontend fe = { .port = 80, .proto = SOCKLB_PROTO_TCP };
	char *t;

	(void)state;
	assert_int_equal(store_upsert(s, K8S_SERVICE,
				      cJSON_Parse("{\"metadata\":{\"name\":\"b\",\"namespace\":\"x\"},\"spec\":{"
						  "\"clusterIP\":\"10.96.0.2\",\"externalIPs\":[\"198.51.100.1\"],"
						  "\"ports\":[{\"port\":80}]}}")),
			 0);
	assert_int_equal(store_upsert(s, K8S_SERVICE,
				      cJSON_Parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},\"spec\":{"
						  "\"clusterIP\":\"10.96.0.1\",\"externalIPs\":[\"198.51.100.1\"],"
						  "\"sessionAffinity\":\"ClientIP\",\"ports\":[{\"port\":80}]}}")),
			 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	free(t);
	assert_int_equal(socklb_addr_parse("198.51.100.1", fe.addr), 0);
	assert_non_null(desired_state_lookup(d, &fe, &owner));
	assert_string_equal(owner, "x/a");
	assert_int_equal(desired_state_lookup(d, &fe, NULL)->affinity_timeout, 10800);

	assert_int_equal(store_delete(s, K8S_SERVICE, "x", "a"), 0);
	t = update_table(d, s, &u);
	desired_update_release(&u);
	assert_string_equal(t, "10.96.0.2:80/TCP -> (none)\n198.51.100.1:80/TCP -> (none)\n");
	free(t);
	assert_non_null(desired_state_lookup(d, &fe, &owner));
	assert_string_equal(owner, "x/b");
	desired_state_free(d);
	store_free(s);
}

static void test_time_parse(void **state)
{
	double t;

	(void)state;
	assert_int_equal(k8s_time_parse("2024-05-01T10:00:00Z", &t), 0);
	assert_true(t == 1714557600.0);
	assert_int_equal(k8s_time_parse("2024-05-01T10:00:00.250Z", &t), 0);
	assert_true(t == 1714557600.25);
	assert_int_equal(k8s_time_parse("2024-05-01T12:00:00+02:00", &t), 0);
	assert_true(t == 1714557600.0);
	assert_int_equal(k8s_time_parse("2024-05-01 10:00:00", &t), -EINVAL);
	assert_int_equal(k8s_time_parse("2024-05-01T10:00:00", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_skipped_services),
		cmocka_unit_test(test_service_proxy_name),
		cmocka_unit_test(test_port_matching),
		cmocka_unit_test(test_merge_and_dedupe),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_internal_traffic_policy_local),
		cmocka_unit_test(test_no_local_endpoints_count),
		cmocka_unit_test(test_topology_hints),
		cmocka_unit_test(test_topology_without_zone),
		cmocka_unit_test(test_session_affinity),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_external_frontends),
		cmocka_unit_test(test_node_ports_need_node),
		cmocka_unit_test(test_namespace_opt_in),
		cmocka_unit_test(test_bad_service_keeps_last_good),
		cmocka_unit_test(test_bad_slice_keeps_last_good),
		cmocka_unit_test(test_incremental_update),
		cmocka_unit_test(test_conflicting_claims),
		cmocka_unit_test(test_time_parse),
	};

	/* Bad-object tests log warnings on purpose: keep the TAP output readable. */
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
