// SPDX-License-Identifier: Apache-2.0
/*
 * Objects from JSON into their compact form: the reader reads as cJSON does
 * (nesting, escapes, numbers, strings that end at a NUL), the decoders take
 * the first of duplicate members and treat null as absent whatever the order
 * of the members, and what an invalid object records is what translation
 * says of it (the field and why, in translation's order of checks).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "json_reader.h"
#include "k8s_namespace.h"
#include "log.h"
#include "test_syncd_fixtures.h"

static void test_reader_numbers_and_strings(void **state)
{
	static const struct {
		const char *text;
		double want;
	} numbers[] = { { "01", 1 },	{ "-.5", -0.5 }, { "1.", 1 },
			{ "1e2", 100 }, { "80.0", 80 },	 { "123456789012345678", 123456789012345678.0 } };
	struct json_reader r = { 0 };
	struct json_str s;
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		json_reader_init(&r, numbers[i].text, 0, strlen(numbers[i].text));
		assert_int_equal(json_read_number(&r, &v), 0);
		assert_true(v == numbers[i].want);
		assert_int_equal(json_expect_end(&r), 0);
	}
	/* A bad hex digit makes the escape U+0000, and a string ends at its first NUL. */
	json_reader_init(&r, "\"ab\\u00zzcd\"", 0, 12);
	assert_int_equal(json_read_string(&r, &s), 0);
	assert_int_equal(s.len, 2);
	assert_memory_equal(s.p, "ab", 2);
	json_reader_init(&r, "\"\\u00e9\\ud83d\\ude00\"", 0, 20);
	assert_int_equal(json_read_string(&r, &s), 0);
	assert_int_equal(s.len, 6);
	assert_memory_equal(s.p, "\xc3\xa9\xf0\x9f\x98\x80", 6);
	/* A lone low surrogate, a trailing comma, a number cut short: not JSON. */
	json_reader_init(&r, "\"\\udc00\"", 0, 8);
	assert_int_equal(json_skip(&r), -EINVAL);
	json_reader_init(&r, "[1,]", 0, 4);
	assert_int_equal(json_skip(&r), -EINVAL);
	json_reader_init(&r, "-", 0, 1);
	assert_int_equal(json_skip(&r), -EINVAL);
	json_reader_release(&r);
}

/* cJSON's limit: 1000 containers deep is JSON, 1001 is not; where it fails is said. */
static void test_reader_nesting_and_errors(void **state)
{
	char text[2 * 1001 + 1];
	struct json_reader r = { 0 };

	(void)state;
	memset(text, '[', 1000);
	memset(text + 1000, ']', 1000);
	json_reader_init(&r, text, 0, 2000);
	assert_int_equal(json_skip(&r), 0);
	memset(text, '[', 1001);
	memset(text + 1001, ']', 1001);
	json_reader_init(&r, text, 0, 2002);
	assert_int_equal(json_skip(&r), -EINVAL);
	assert_string_equal(r.err_what, "nested more than 1000 deep");
	json_reader_init(&r, "{\"a\":1 \"b\":2}", 0, 13);
	assert_int_equal(json_skip(&r), -EINVAL);
	assert_int_equal(r.err_offset, 7);
	assert_string_equal(r.err_what, "',' or '}' was expected after a member");
	json_reader_release(&r);
}

#define SVC_JSON(spec) "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":" spec "}"

static const struct k8s_service *service(const char *json)
{
	const struct k8s_service *svc = (const struct k8s_service *)from_text(K8S_SERVICE, json);

	assert_non_null(svc);
	return svc;
}

/* What a Service's spec says, in translation's order: the verdict and the first bad field. */
static void test_service_verdicts(void **state)
{
	static const struct {
		const char *json;
		enum service_spec spec;
		const char *fault;
	} cases[] = {
		{ "{\"metadata\":{\"name\":\"web\"}}", SERVICE_SPEC_MISSING, "spec is missing" },
		{ SVC_JSON("[]"), SERVICE_SPEC_MISSING, "spec is missing" },
		{ SVC_JSON("{\"type\":\"ExternalName\",\"clusterIP\":\"bad\"}"), SERVICE_SPEC_EXTERNAL_NAME, NULL },
		{ SVC_JSON("{\"type\":\"Nodeport\",\"clusterIP\":\"None\"}"), SERVICE_SPEC_INVALID,
		  "spec.type \"Nodeport\" is unknown" },
		{ SVC_JSON("{\"clusterIP\":\"None\",\"ports\":7}"), SERVICE_SPEC_NO_CLUSTER_IP, NULL },
		{ SVC_JSON("{\"type\":5,\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80}]}"), SERVICE_SPEC_OK,
		  NULL },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"internalTrafficPolicy\":\"local\",\"ports\":7}"),
		  SERVICE_SPEC_INVALID, "spec.internalTrafficPolicy \"local\" is neither Cluster nor Local" },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"ports\":7,\"sessionAffinity\":\"x\"}"), SERVICE_SPEC_INVALID,
		  "spec.ports is not a list" },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"sessionAffinity\":\"ClientIP\","
			   "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":0}}}"),
		  SERVICE_SPEC_INVALID, "spec.sessionAffinityConfig.clientIP.timeoutSeconds must be 1-86400" },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"clusterIPs\":[\"10.0.0.1\",7]}"), SERVICE_SPEC_INVALID,
		  "spec.clusterIPs[1] \"\" is not an IP address" },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.x\",\"clusterIPs\":[]}"), SERVICE_SPEC_INVALID,
		  "spec.clusterIP[0] \"10.0.0.x\" is not an IP address" },
		{ "{\"metadata\":{\"name\":\"web\"},\"status\":{\"loadBalancer\":{\"ingress\":{}}},"
		  "\"spec\":{\"clusterIP\":\"10.0.0.1\",\"externalIPs\":[\"x\"]}}",
		  SERVICE_SPEC_INVALID, "status.loadBalancer.ingress is not a list" },
		/* Ingress IPs count only on a LoadBalancer; ipMode Proxy and hostnames are skipped, with their index. */
		{ "{\"metadata\":{\"name\":\"web\"},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"x\"}]}},"
		  "\"spec\":{\"clusterIP\":\"10.0.0.1\"}}",
		  SERVICE_SPEC_OK, NULL },
		{ "{\"metadata\":{\"name\":\"web\"},\"status\":{\"loadBalancer\":{\"ingress\":[{\"hostname\":\"h\"},"
		  "{\"ip\":\"y\",\"ipMode\":\"Proxy\"},{\"ipMode\":\"VIP\",\"ip\":\"z\"}]}},"
		  "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.0.0.1\"}}",
		  SERVICE_SPEC_INVALID, "status.loadBalancer.ingress.ip[2] \"z\" is not an IP address" },
		/* A bad port is found after the spec's own fields: translation names it after the slices. */
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80},{\"protocol\":\"SCTP\",\"port\":0}]}"),
		  SERVICE_SPEC_OK, "spec.ports[1].port is not a port number (1-65535)" },
		{ SVC_JSON("{\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80,\"nodePort\":-1}]}"), SERVICE_SPEC_OK,
		  "spec.ports[0].nodePort is not a port number" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct k8s_service *svc = service(cases[i].json);

		if (svc->spec != cases[i].spec ||
		    (cases[i].fault ? !svc->fault || strcmp(svc->fault, cases[i].fault) != 0 : svc->fault != NULL))
			fail_msg("%s: spec %d fault \"%s\", want %d \"%s\"", cases[i].json, svc->spec,
				 svc->fault ? svc->fault : "(none)", cases[i].spec,
				 cases[i].fault ? cases[i].fault : "(none)");
		k8s_object_free((struct k8s_object *)svc);
	}
}

/* The first of duplicate members counts (as cJSON finds it), even when it is null; order does not matter. */
static void test_first_member_and_order(void **state)
{
	const struct k8s_service *a, *b;
	const struct k8s_object *s1, *s2;

	(void)state;
	a = service("{\"spec\":{\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80,\"name\":\"\"}]},\"metadata\":{"
		    "\"namespace\":\"shop\",\"name\":\"web\",\"labels\":{\"" K8S_LABEL_SERVICE_PROXY_NAME "\":null,"
		    "\"" K8S_LABEL_SERVICE_PROXY_NAME "\":\"other\"}},\"spec\":{}}");
	b = service(SVC_JSON("{\"ports\":[{\"port\":80}],\"clusterIP\":\"10.0.0.1\"}"));
	assert_null(a->proxy_name);
	assert_int_equal(a->spec, SERVICE_SPEC_OK);
	/* An unnamed port and one named "" are the same port. */
	assert_true(k8s_object_equal(&a->obj, &b->obj));
	k8s_object_free((struct k8s_object *)a);
	k8s_object_free((struct k8s_object *)b);

	/* Endpoints read before the addressType are judged by it all the same. */
	s1 = from_text(K8S_ENDPOINTSLICE, "{\"endpoints\":[{\"addresses\":[\"fd00::1\"]}],\"addressType\":\"IPv4\","
					  "\"metadata\":{\"name\":\"s\"}}");
	s2 = from_text(K8S_ENDPOINTSLICE, "{\"metadata\":{\"name\":\"s\"},\"addressType\":\"IPv4\",\"endpoints\":[{"
					  "\"addresses\":[\"fd00::1\"]}]}");
	assert_string_equal(((const struct k8s_slice *)s1)->fault,
			    "endpoints[0].addresses[0] \"fd00::1\" is not an IPv4 address");
	assert_true(k8s_object_equal(s1, s2));
	k8s_object_free((struct k8s_object *)s1);
	k8s_object_free((struct k8s_object *)s2);
}

/* A slice's first fault in translation's order: addressType, ports, then endpoints; FQDN slices are left alone. */
static void test_slice_faults(void **state)
{
	static const struct {
		const char *json;
		const char *fault;
	} cases[] = {
		{ "{\"ports\":[7],\"endpoints\":5}", "addressType is missing" },
		{ "{\"addressType\":\"FQDN\",\"ports\":[7],\"endpoints\":5}", NULL },
		{ "{\"addressType\":\"IPv4\",\"endpoints\":5,\"ports\":[{\"port\":1},{\"name\":3}]}",
		  "ports[1]: name and protocol must be strings" },
		{ "{\"addressType\":\"IPv4\",\"ports\":[{\"port\":null},{\"port\":65536}]}",
		  "ports[1].port is not a port number (1-65535)" },
		{ "{\"addressType\":\"IPv6\",\"endpoints\":[{\"addresses\":[\"fd00::1\"],\"hints\":{\"forZones\":7,"
		  "\"forNodes\":[{}]}}]}",
		  "endpoints[0].hints.forNodes[] needs a name" },
		{ "{\"addressType\":\"IPv4\",\"endpoints\":[{\"nodeName\":1,\"conditions\":{\"ready\":\"yes\"},"
		  "\"addresses\":[\"10.0.0.1\"]}]}",
		  "endpoints[0].conditions: ready, serving and terminating must be booleans" },
		{ "{\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]},{\"addresses\":[]}]}",
		  "endpoints[1].addresses must be a non-empty list of addresses" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct k8s_slice *s = (const struct k8s_slice *)from_text(K8S_ENDPOINTSLICE, cases[i].json);

		assert_non_null(s);
		if (cases[i].fault ? !s->fault || strcmp(s->fault, cases[i].fault) != 0 : s->fault != NULL)
			fail_msg("%s: fault \"%s\", want \"%s\"", cases[i].json, s->fault ? s->fault : "(none)",
				 cases[i].fault ? cases[i].fault : "(none)");
		/* Nothing of a malformed slice is kept: translation uses none of it. */
		if (s->fault)
			assert_int_equal(s->n_endpoints + s->n_ports, 0);
		k8s_object_free((struct k8s_object *)s);
	}
}

/* What the other kinds keep: a Node's zone and addresses (and what it ignores), a Namespace's opt-in. */
static void test_node_and_namespace(void **state)
{
	const struct k8s_node *node;
	const struct k8s_namespace *ns;

	(void)state;
	node = (const struct k8s_node *)from_text(
		K8S_NODE,
		"{\"metadata\":{\"name\":\"n\",\"labels\":{\"" K8S_LABEL_ZONE "\":\"z\"}},\"status\":{"
		"\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n\"},{\"type\":\"InternalIP\",\"address\":"
		"\"10.0.0.1\"},{\"type\":\"ExternalIP\",\"address\":\"10.0.0.1\"},{\"type\":\"InternalIP\","
		"\"address\":\"10.0.0.x\"}]}}");
	assert_non_null(node);
	assert_string_equal(node->zone, "z");
	assert_int_equal(node->n_addrs, 1);
	assert_int_equal(node->n_ignored, 1);
	assert_string_equal(k8s_node_ignored(node)[0], "of type InternalIP: \"10.0.0.x\"");
	k8s_object_free((struct k8s_object *)node);
	ns = (const struct k8s_namespace *)from_text(
		K8S_NAMESPACE,
		"{\"metadata\":{\"name\":\"a\",\"annotations\":{\"" SOCKLB_ANNOTATION_ENABLED "\":\"True\"}}}");
	assert_false(ns->annotated);
	k8s_object_free((struct k8s_object *)ns);
	ns = (const struct k8s_namespace *)from_text(
		K8S_NAMESPACE,
		"{\"metadata\":{\"name\":\"a\",\"annotations\":{\"" SOCKLB_ANNOTATION_ENABLED "\":\"false\"}}}");
	assert_true(ns->annotated);
	assert_int_equal(ns->opt_in, SOCKLB_NS_OPTED_OUT);
	k8s_object_free((struct k8s_object *)ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_numbers_and_strings),
		cmocka_unit_test(test_reader_nesting_and_errors),
		cmocka_unit_test(test_service_verdicts),
		cmocka_unit_test(test_first_member_and_order),
		cmocka_unit_test(test_slice_faults),
		cmocka_unit_test(test_node_and_namespace),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
