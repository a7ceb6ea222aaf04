// SPDX-License-Identifier: Apache-2.0
/* The plugin's network configuration: defaults, every key, bad values (code 7 naming the key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"

#define HEAD "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\",\"type\":\"socklb\""

static int parse(const char *text, struct plugin_config *conf, struct cni_error *err)
{
	memset(err, 0, sizeof(*err));
	return plugin_config_parse(text, strlen(text), conf, err);
}

static int occurrences(const char *text, const char *word)
{
	int n = 0;

	for (; (text = strstr(text, word)); text += strlen(word))
		n++;
	return n;
}

/*
 * Parse text expecting failure with code; the error must mention key, and a
 * bad key (7) names it once in "msg: details", the form the log line shows.
 */
static void expect_error(const char *text, int code, const char *key)
{
	char logged[CNI_ERROR_MSG_LEN + CNI_ERROR_DETAILS_LEN + 2];
	struct plugin_config conf;
	struct cni_error err;

	assert_int_equal(parse(text, &conf, &err), -1);
	assert_int_equal(err.code, code);
	snprintf(logged, sizeof(logged), "%s: %s", err.msg, err.details);
	if (key && !strstr(logged, key))
		fail_msg("error for %s does not name %s: %s", text, key, logged);
	if (key && code == 7 && occurrences(logged, key) != 1)
		fail_msg("error for %s names %s more than once: %s", text, key, logged);
	plugin_config_free(&conf);
}

static void test_defaults(void **state)
{
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse(HEAD "}", &conf, &err), 0);
	assert_string_equal(conf.cni_version, "1.0.0");
	assert_string_equal(conf.name, "k8s-pod-network");
	assert_string_equal(conf.bpffs_root, "/sys/fs/bpf/socklb");
	assert_null(conf.cgroup_root);
	assert_int_equal(conf.namespaces_count, 0);
	assert_string_equal(conf.opt_in_annotation, "socklb.io/enabled");
	assert_null(conf.log_file);
	assert_int_equal(conf.log_level, SOCKLB_LOG_INFO);
	assert_null(conf.cgroup_path);
	assert_null(conf.pod_opt_in);
	assert_int_equal(conf.sidecar_annotations_count, 2);
	assert_string_equal(conf.sidecar_annotations[0], "sidecar.istio.io/status");
	assert_string_equal(conf.sidecar_annotations[1], "linkerd.io/proxy-version");
	assert_null(conf.pod_sidecar_mark);
	assert_null(conf.prev_result);
	assert_false(conf.has_valid_attachments);
	plugin_config_free(&conf);
}

static void test_every_key(void **state)
{
	struct plugin_config conf;
	struct cni_error err;
	const char *text = HEAD ",\"bpffsRoot\":\"/sys/fs/bpf/x\",\"cgroupRoot\":\"/sys/fs/cgroup/unified/kubelet\","
				"\"namespaces\":[\"default\",\"team-a\",\"*\"],\"optInAnnotation\":\"example.com/lb\","
				"\"sidecarAnnotations\":[\"mesh.example/injected\"],"
				"\"logFile\":\"/var/log/socklb.log\",\"logLevel\":\"debug\",\"unknownKey\":{\"a\":1},"
				"\"capabilities\":{\"cgroupPath\":true},"
				"\"runtimeConfig\":{\"cgroupPath\":\"/kubepods/burstable/podX\","
				"\"io.kubernetes.cri.pod-annotations\":{\"example.com/lb\":\"true\",\"other\":\"x\","
				"\"mesh.example/injected\":\"\"}},"
				"\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[]}}";

	(void)state;
	assert_int_equal(parse(text, &conf, &err), 0);
	assert_string_equal(conf.bpffs_root, "/sys/fs/bpf/x");
	assert_string_equal(conf.cgroup_root, "/sys/fs/cgroup/unified/kubelet");
	assert_int_equal(conf.namespaces_count, 3);
	assert_string_equal(conf.namespaces[0], "default");
	assert_string_equal(conf.namespaces[1], "team-a");
	assert_string_equal(conf.namespaces[2], "*");
	assert_string_equal(conf.opt_in_annotation, "example.com/lb");
	assert_string_equal(conf.log_file, "/var/log/socklb.log");
	assert_int_equal(conf.log_level, SOCKLB_LOG_DEBUG);
	assert_string_equal(conf.cgroup_path, "/kubepods/burstable/podX");
	assert_string_equal(conf.pod_opt_in, "true");
	assert_int_equal(conf.sidecar_annotations_count, 1);
	assert_string_equal(conf.pod_sidecar_mark, "mesh.example/injected");
	assert_non_null(conf.prev_result);
	plugin_config_free(&conf);
}

static void test_annotation_follows_opt_in_key(void **state)
{
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	/* The default key is read; another annotation is not ours. */
	assert_int_equal(parse(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":"
				    "{\"socklb.io/enabled\":\"false\",\"example.com/lb\":\"true\"}}}",
			       &conf, &err),
			 0);
	assert_string_equal(conf.pod_opt_in, "false");
	plugin_config_free(&conf);

	assert_int_equal(parse(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":{}}}", &conf, &err), 0);
	assert_null(conf.pod_opt_in);
	plugin_config_free(&conf);

	/* An empty cgroupPath is no cgroupPath. */
	assert_int_equal(parse(HEAD ",\"runtimeConfig\":{\"cgroupPath\":\"\"}}", &conf, &err), 0);
	assert_null(conf.cgroup_path);
	plugin_config_free(&conf);
}

#define ANNOTATED(json) HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":" json "}}"

/* The first sidecar annotation the pod has is its mark, whatever its value; [] checks none. */
static void test_sidecar_mark(void **state)
{
	static const struct {
		const char *config;
		const char *mark;
	} rows[] = {
		{ ANNOTATED("{\"linkerd.io/proxy-version\":\"edge-24.11.8\",\"sidecar.istio.io/status\":\"{}\"}"),
		  "sidecar.istio.io/status" },
		{ ANNOTATED("{\"linkerd.io/proxy-version\":\"\",\"linkerd.io/inject\":\"enabled\"}"),
		  "linkerd.io/proxy-version" },
		/* Injection requests are not marks: only what an injector writes on the pod it injected. */
		{ ANNOTATED("{\"sidecar.istio.io/inject\":\"true\",\"linkerd.io/inject\":\"enabled\"}"), NULL },
		{ HEAD ",\"sidecarAnnotations\":[],\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":"
		       "{\"sidecar.istio.io/status\":\"{}\"}}}",
		  NULL },
		{ HEAD ",\"sidecarAnnotations\":null,\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":"
		       "{\"sidecar.istio.io/status\":\"{}\"}}}",
		  "sidecar.istio.io/status" },
	};
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(parse(rows[i].config, &conf, &err), 0);
		if (rows[i].mark)
			assert_string_equal(conf.pod_sidecar_mark, rows[i].mark);
		else
			assert_null(conf.pod_sidecar_mark);
		plugin_config_free(&conf);
	}
}

static void test_decode_errors(void **state)
{
	(void)state;
	expect_error("", 6, NULL);
	expect_error("{\"cniVersion\":", 6, NULL);
	expect_error("[1,2]", 6, NULL);
	expect_error("\"text\"", 6, NULL);
}

static void test_version_errors(void **state)
{
	(void)state;
	expect_error("{\"name\":\"n\"}", 7, "cniVersion");
	expect_error("{\"cniVersion\":1,\"name\":\"n\"}", 7, "cniVersion");
	expect_error("{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}", 1, "0.2.0");
	expect_error("{\"cniVersion\":\"2.0.0\",\"name\":\"n\"}", 1, "2.0.0");
	expect_error("{\"cniVersion\":\"1.0\",\"name\":\"n\"}", 1, "1.0");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("{\"cniVersion\":\"1.0.0\"}", 7, "name");
	expect_error("{\"cniVersion\":\"1.0.0\",\"name\":\"bad name\"}", 7, "name");
	expect_error("{\"cniVersion\":\"1.0.0\",\"name\":3}", 7, "name");
	expect_error(HEAD ",\"bpffsRoot\":\"relative/path\"}", 7, "bpffsRoot");
	expect_error(HEAD ",\"bpffsRoot\":\"/sys/fs/bpf/../../etc\"}", 7, "bpffsRoot");
	expect_error(HEAD ",\"bpffsRoot\":42}", 7, "bpffsRoot");
	expect_error(HEAD ",\"cgroupRoot\":\"cgroup\"}", 7, "cgroupRoot");
	expect_error(HEAD ",\"cgroupRoot\":\"/sys/fs/cgroup/..\"}", 7, "cgroupRoot");
	expect_error(HEAD ",\"cgroupRoot\":[]}", 7, "cgroupRoot");
	expect_error(HEAD ",\"namespaces\":\"default\"}", 7, "namespaces");
	expect_error(HEAD ",\"namespaces\":[\"default\",7]}", 7, "namespaces[1]");
	expect_error(HEAD ",\"namespaces\":[\"Not_A_Namespace\"]}", 7, "namespaces[0]");
	expect_error(HEAD ",\"namespaces\":[\"-leading\"]}", 7, "namespaces[0]");
	expect_error(HEAD ",\"optInAnnotation\":\"\"}", 7, "optInAnnotation");
	expect_error(HEAD ",\"optInAnnotation\":\"a/b/c\"}", 7, "optInAnnotation");
	expect_error(HEAD ",\"optInAnnotation\":\"has space\"}", 7, "optInAnnotation");
	expect_error(HEAD ",\"optInAnnotation\":true}", 7, "optInAnnotation");
	expect_error(HEAD ",\"sidecarAnnotations\":\"sidecar.istio.io/status\"}", 7, "sidecarAnnotations");
	expect_error(HEAD ",\"sidecarAnnotations\":[\"ok/key\",3]}", 7, "sidecarAnnotations[1]");
	expect_error(HEAD ",\"sidecarAnnotations\":[\"a/b/c\"]}", 7, "sidecarAnnotations[0]");
	expect_error(HEAD ",\"logFile\":\"socklb.log\"}", 7, "logFile");
	expect_error(HEAD ",\"logLevel\":\"verbose\"}", 7, "logLevel");
	expect_error(HEAD ",\"logLevel\":3}", 7, "logLevel");
	expect_error(HEAD ",\"runtimeConfig\":[]}", 7, "runtimeConfig");
	expect_error(HEAD ",\"runtimeConfig\":{\"cgroupPath\":5}}", 7, "runtimeConfig.cgroupPath");
	expect_error(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":[]}}", 7,
		     "io.kubernetes.cri.pod-annotations");
	expect_error(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":{\"socklb.io/enabled\":true}}}", 7,
		     "socklb.io/enabled");
	expect_error(HEAD ",\"prevResult\":\"x\"}", 7, "prevResult");
}

static void test_null_is_absent(void **state)
{
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse(HEAD ",\"bpffsRoot\":null,\"namespaces\":null,\"logLevel\":null,\"runtimeConfig\":null,"
				    "\"prevResult\":null}",
			       &conf, &err),
			 0);
	assert_string_equal(conf.bpffs_root, "/sys/fs/bpf/socklb");
	assert_null(conf.prev_result);
	plugin_config_free(&conf);
}

static void test_valid_attachments(void **state)
{
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	assert_int_equal(
		parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":"
		      "[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}",
		      &conf, &err),
		0);
	assert_true(conf.has_valid_attachments);
	assert_int_equal(conf.valid_attachments_count, 2);
	assert_string_equal(conf.valid_attachments[1].container_id, "c2");
	assert_string_equal(conf.valid_attachments[1].ifname, "net1");
	plugin_config_free(&conf);

	/* The deprecated name, and null meaning "none is valid" (libcni's nil list). */
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/attachments\":"
			       "[{\"containerID\":\"c1\",\"ifname\":\"eth0\"}]}",
			       &conf, &err),
			 0);
	assert_int_equal(conf.valid_attachments_count, 1);
	plugin_config_free(&conf);
	assert_int_equal(
		parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":null}", &conf, &err), 0);
	assert_true(conf.has_valid_attachments);
	assert_int_equal(conf.valid_attachments_count, 0);
	plugin_config_free(&conf);

	expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":{}}", 7,
		     "cni.dev/valid-attachments");
	expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]}",
		     7, "cni.dev/valid-attachments[0]");
	expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":"
		     "[{\"containerID\":\"c\",\"ifname\":\"eth0\"},{\"containerID\":\"c\"}]}",
		     7, "cni.dev/valid-attachments[1]");
}

static void test_version_kept_after_error(void **state)
{
	struct plugin_config conf;
	struct cni_error err;

	(void)state;
	/* The error is answered in the request's version. */
	assert_int_equal(parse("{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"logLevel\":\"loud\"}", &conf, &err), -1);
	assert_string_equal(conf.cni_version, "0.4.0");
	plugin_config_free(&conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_annotation_follows_opt_in_key),
		cmocka_unit_test(test_sidecar_mark),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_version_errors),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_null_is_absent),
		cmocka_unit_test(test_valid_attachments),
		cmocka_unit_test(test_version_kept_after_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
