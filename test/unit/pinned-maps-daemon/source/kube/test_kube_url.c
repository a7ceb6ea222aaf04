// SPDX-License-Identifier: Apache-2.0
/* What the API source asks for: selectors (kube-proxy's) and request URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube_url.h"
#include "log.h"

static void test_resource_paths(void **state)
{
	(void)state;
	assert_string_equal(kube_resource_path(K8S_SERVICE), "/api/v1/services");
	assert_string_equal(kube_resource_path(K8S_ENDPOINTSLICE), "/apis/discovery.k8s.io/v1/endpointslices");
	assert_string_equal(kube_resource_path(K8S_NAMESPACE), "/api/v1/namespaces");
	assert_string_equal(kube_resource_path(K8S_NODE), "/api/v1/nodes");
}

static void assert_selectors(enum k8s_kind kind, const char *proxy_name, const char *node, const char *label,
			     const char *field)
{
	struct kube_selectors sel;

	assert_int_equal(kube_selectors_build(kind, proxy_name, node, &sel), 0);
	if (label)
		assert_string_equal(sel.label, label);
	else
		assert_null(sel.label);
	if (field)
		assert_string_equal(sel.field, field);
	else
		assert_null(sel.field);
	kube_selectors_free(&sel);
}

static void test_service_selectors(void **state)
{
	(void)state;
	/* no proxy name: services without the label, as kube-proxy */
	assert_selectors(K8S_SERVICE, NULL, "n1",
			 "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name", NULL);
	assert_selectors(K8S_SERVICE, "", "n1",
			 "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name", NULL);
	assert_selectors(K8S_SERVICE, "socklb", NULL,
			 "!service.kubernetes.io/headless,service.kubernetes.io/service-proxy-name=socklb", NULL);
}

static void test_other_kinds_selectors(void **state)
{
	(void)state;
	/* slices carry the headless label only; the translator matches them to services */
	assert_selectors(K8S_ENDPOINTSLICE, "socklb", NULL, "!service.kubernetes.io/headless", NULL);
	assert_selectors(K8S_NAMESPACE, "socklb", "n1", NULL, NULL);
	assert_selectors(K8S_NODE, NULL, "node-1.example", NULL, "metadata.name=node-1.example");
}

static void test_bad_names_are_refused(void **state)
{
	struct kube_selectors sel;

	(void)state;
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, false);
	assert_int_equal(kube_selectors_build(K8S_SERVICE, "bad name", NULL, &sel), -EINVAL);
	assert_int_equal(kube_selectors_build(K8S_SERVICE, "-x", NULL, &sel), -EINVAL);
	assert_int_equal(kube_selectors_build(K8S_SERVICE, "a,b=c", NULL, &sel), -EINVAL);
	assert_int_equal(kube_selectors_build(K8S_NODE, NULL, NULL, &sel), -EINVAL);
	assert_int_equal(kube_selectors_build(K8S_NODE, NULL, "Node_1", &sel), -EINVAL);
	assert_int_equal(kube_selectors_build(K8S_NODE, NULL, "n1,metadata.name=n2", &sel), -EINVAL);
	socklb_log_init("test", SOCKLB_LOG_INFO, NULL, true);
}

static void test_label_values(void **state)
{
	char long_value[65];

	(void)state;
	assert_true(kube_label_value_valid(""));
	assert_true(kube_label_value_valid("a"));
	assert_true(kube_label_value_valid("my-proxy_1.v2"));
	assert_false(kube_label_value_valid("a/b"));
	assert_false(kube_label_value_valid("a."));
	memset(long_value, 'a', 64);
	long_value[64] = '\0';
	assert_false(kube_label_value_valid(long_value));
	long_value[63] = '\0';
	assert_true(kube_label_value_valid(long_value));
}

static void test_list_urls(void **state)
{
	struct kube_selectors sel;
	char *url;

	(void)state;
	assert_int_equal(kube_selectors_build(K8S_SERVICE, NULL, NULL, &sel), 0);
	url = kube_list_url("https://10.0.0.1:6443", K8S_SERVICE, &sel, 500, NULL);
	assert_string_equal(url, "https://10.0.0.1:6443/api/v1/services?limit=500&labelSelector="
				 "%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name");
	free(url);
	/* continue tokens are opaque base64: '=' and '/' must be escaped */
	url = kube_list_url("https://api.example/", K8S_SERVICE, &sel, 500, "eyJ2Ijoi/+=");
	assert_string_equal(url,
			    "https://api.example/api/v1/services?limit=500&continue=eyJ2Ijoi%2F%2B%3D&labelSelector="
			    "%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name");
	free(url);
	kube_selectors_free(&sel);

	/* a path prefix (an API proxy) is kept, trailing slashes are not doubled */
	assert_int_equal(kube_selectors_build(K8S_NAMESPACE, NULL, NULL, &sel), 0);
	url = kube_list_url("https://rancher.example/k8s/clusters/c-1//", K8S_NAMESPACE, &sel, 500, NULL);
	assert_string_equal(url, "https://rancher.example/k8s/clusters/c-1/api/v1/namespaces?limit=500");
	free(url);
	kube_selectors_free(&sel);

	assert_int_equal(kube_selectors_build(K8S_NODE, NULL, "n1", &sel), 0);
	url = kube_list_url("https://[fd00::1]:6443", K8S_NODE, &sel, 500, NULL);
	assert_string_equal(url, "https://[fd00::1]:6443/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Dn1");
	free(url);
	kube_selectors_free(&sel);
}

static void test_watch_urls(void **state)
{
	struct kube_selectors sel;
	char *url;

	(void)state;
	assert_int_equal(kube_selectors_build(K8S_ENDPOINTSLICE, NULL, NULL, &sel), 0);
	url = kube_watch_url("https://10.0.0.1:6443", K8S_ENDPOINTSLICE, &sel, "12345", 300);
	assert_string_equal(url, "https://10.0.0.1:6443/apis/discovery.k8s.io/v1/endpointslices?watch=true"
				 "&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=12345"
				 "&labelSelector=%21service.kubernetes.io%2Fheadless");
	free(url);
	kube_selectors_free(&sel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_paths),
		cmocka_unit_test(test_service_selectors),
		cmocka_unit_test(test_other_kinds_selectors),
		cmocka_unit_test(test_bad_names_are_refused),
		cmocka_unit_test(test_label_values),
		cmocka_unit_test(test_list_urls),
		cmocka_unit_test(test_watch_urls),
	};

	return cmocka_run_group_tests_name("kube_url", tests, NULL, NULL);
}
