// SPDX-License-Identifier: Apache-2.0
/*
 * The plugin's network configuration: defaults, every key, bad values (code 7
 * naming the key): an error for what the runtime sends, kept aside for a key
 * of ours, which then decides nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "attach_failures.h"
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

/*
 * A bad value of a key of ours: parsing succeeds, conf->invalid is code 7
 * naming the key once. The caller checks what the key is left at, then frees conf.
 */
static void expect_invalid(const char *text, const char *key, struct plugin_config *conf)
{
	char logged[CNI_ERROR_MSG_LEN + CNI_ERROR_DETAILS_LEN + 2];
	struct cni_error err;

	assert_int_equal(parse(text, conf, &err), 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(conf->invalid.code, 7);
	snprintf(logged, sizeof(logged), "%s: %s", conf->invalid.msg, conf->invalid.details);
	if (occurrences(logged, key) != 1)
		fail_msg("error for %s does not name %s exactly once: %s", text, key, logged);
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
	/* An opted-in pod socklb cannot attach starts without it, counted in this file. */
	assert_int_equal(conf.failure_policy, FAILURE_POLICY_IGNORE);
	assert_string_equal(conf.attach_failures_file, "/run/socklb/attach-failures");
	assert_int_equal(conf.invalid.code, 0);
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
				"\"failurePolicy\":\"Fail\",\"attachFailuresFile\":\"/var/run/x/failures\","
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
	assert_int_equal(conf.failure_policy, FAILURE_POLICY_FAIL);
	assert_string_equal(conf.attach_failures_file, "/var/run/x/failures");
	assert_int_equal(conf.invalid.code, 0);
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

/* What the runtime sends: a bad value is an error. */
static void test_bad_values(void **state)
{
	(void)state;
	expect_error("{\"cniVersion\":\"1.0.0\"}", 7, "name");
	expect_error("{\"cniVersion\":\"1.0.0\",\"name\":\"bad name\"}", 7, "name");
	expect_error("{\"cniVersion\":\"1.0.0\",\"name\":3}", 7, "name");
	expect_error(HEAD ",\"runtimeConfig\":[]}", 7, "runtimeConfig");
	expect_error(HEAD ",\"runtimeConfig\":{\"cgroupPath\":5}}", 7, "runtimeConfig.cgroupPath");
	expect_error(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":[]}}", 7,
		     "io.kubernetes.cri.pod-annotations");
	expect_error(HEAD ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":{\"socklb.io/enabled\":true}}}", 7,
		     "socklb.io/enabled");
	expect_error(HEAD ",\"prevResult\":\"x\"}", 7, "prevResult");
}

/* Our keys: each bad value is kept aside, names its key, and leaves the key deciding nothing. */
static void test_bad_own_keys(void **state)
{
	static const char *const bad_bpffs_root[] = { "\"relative/path\"", "\"/sys/fs/bpf/../../etc\"", "42" };
	static const char *const bad_cgroup_root[] = { "\"cgroup\"", "\"/sys/fs/cgroup/..\"", "[]" };
	static const char *const bad_annotation[] = { "\"\"", "\"a/b/c\"", "\"has space\"", "true" };
	struct plugin_config conf;
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_bpffs_root) / sizeof(bad_bpffs_root[0]); i++) {
		snprintf(text, sizeof(text), HEAD ",\"bpffsRoot\":%s}", bad_bpffs_root[i]);
		expect_invalid(text, "bpffsRoot", &conf);
		assert_null(conf.bpffs_root); /* no namespace map to read, nothing to attach to */
		plugin_config_free(&conf);
	}
	for (i = 0; i < sizeof(bad_cgroup_root) / sizeof(bad_cgroup_root[0]); i++) {
		snprintf(text, sizeof(text), HEAD ",\"cgroupRoot\":%s}", bad_cgroup_root[i]);
		expect_invalid(text, "cgroupRoot", &conf);
		assert_null(conf.cgroup_root);
		plugin_config_free(&conf);
	}
	for (i = 0; i < sizeof(bad_annotation) / sizeof(bad_annotation[0]); i++) {
		snprintf(text, sizeof(text),
			 HEAD
			 ",\"optInAnnotation\":%s,"
			 "\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":{\"socklb.io/enabled\":\"true\"}}}",
			 bad_annotation[i]);
		expect_invalid(text, "optInAnnotation", &conf);
		/* Not even the default annotation opts the pod in: the configured key is unknown. */
		assert_null(conf.opt_in_annotation);
		assert_null(conf.pod_opt_in);
		plugin_config_free(&conf);
	}

	expect_invalid(HEAD ",\"namespaces\":\"default\"}", "namespaces", &conf);
	assert_int_equal(conf.namespaces_count, 0);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"namespaces\":[\"default\",7]}", "namespaces[1]", &conf);
	assert_int_equal(conf.namespaces_count, 0); /* not "default" alone: the list as a whole is unknown */
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"namespaces\":[\"Not_A_Namespace\"]}", "namespaces[0]", &conf);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"namespaces\":[\"-leading\"]}", "namespaces[0]", &conf);
	plugin_config_free(&conf);

	/* A bad list keeps the default marks: a mesh pod is not opted in by its namespace meanwhile. */
	expect_invalid(HEAD ",\"sidecarAnnotations\":\"sidecar.istio.io/status\"}", "sidecarAnnotations", &conf);
	assert_int_equal(conf.sidecar_annotations_count, 2);
	assert_string_equal(conf.sidecar_annotations[0], "sidecar.istio.io/status");
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"sidecarAnnotations\":[\"ok/key\",3]}", "sidecarAnnotations[1]", &conf);
	assert_int_equal(conf.sidecar_annotations_count, 2);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"sidecarAnnotations\":[\"a/b/c\"]}", "sidecarAnnotations[0]", &conf);
	plugin_config_free(&conf);

	expect_invalid(HEAD ",\"logFile\":\"socklb.log\"}", "logFile", &conf);
	assert_null(conf.log_file);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"logLevel\":\"verbose\"}", "logLevel", &conf);
	assert_int_equal(conf.log_level, SOCKLB_LOG_INFO);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"logLevel\":3}", "logLevel", &conf);
	plugin_config_free(&conf);

	/* Named like Kubernetes' admission webhooks: exactly "Fail" or "Ignore". */
	expect_invalid(HEAD ",\"failurePolicy\":\"fail\"}", "failurePolicy", &conf);
	assert_int_equal(conf.failure_policy, FAILURE_POLICY_IGNORE);
	assert_true(strstr(conf.invalid.details, "\"Fail\" or \"Ignore\"") != NULL);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"failurePolicy\":\"Sometimes\"}", "failurePolicy", &conf);
	plugin_config_free(&conf);
	expect_invalid(HEAD ",\"failurePolicy\":true}", "failurePolicy", &conf);
	plugin_config_free(&conf);

	/* The record keeps its default: the failures are still counted where the daemon looks. */
	expect_invalid(HEAD ",\"attachFailuresFile\":\"failures\"}", "attachFailuresFile", &conf);
	assert_string_equal(conf.attach_failures_file, SOCKLB_DEFAULT_ATTACH_FAILURES_FILE);
	plugin_config_free(&conf);
}

/* A bad key of ours stops nothing: the others are read; the first bad one in config.h's order is named. */
static void test_bad_own_key_stops_nothing(void **state)
{
	struct plugin_config conf;

	(void)state;
	expect_invalid(HEAD ",\"logLevel\":\"loud\",\"namespaces\":[\"team-a\"],\"failurePolicy\":\"Fail\","
			    "\"cgroupRoot\":\"x\",\"prevResult\":{\"cniVersion\":\"1.0.0\"}}",
		       "cgroupRoot", &conf);
	assert_int_equal(conf.namespaces_count, 1);
	assert_string_equal(conf.namespaces[0], "team-a");
	assert_int_equal(conf.failure_policy, FAILURE_POLICY_FAIL);
	assert_string_equal(conf.bpffs_root, "/sys/fs/bpf/socklb");
	assert_non_null(conf.prev_result);
	plugin_config_free(&conf);
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
	assert_int_equal(parse("{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"prevResult\":\"x\"}", &conf, &err), -1);
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
		cmocka_unit_test(test_bad_own_keys),
		cmocka_unit_test(test_bad_own_key_stops_nothing),
		cmocka_unit_test(test_null_is_absent),
		cmocka_unit_test(test_valid_attachments),
		cmocka_unit_test(test_version_kept_after_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
