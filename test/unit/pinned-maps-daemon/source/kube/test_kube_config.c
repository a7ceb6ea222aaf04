// SPDX-License-Identifier: Apache-2.0
/*
 * Connection settings: every kubeconfig auth form, in-cluster config, and a
 * clear error naming the field for each thing that can be missing or wrong.
 * The bearer token file: read at start, re-read on demand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube_config.h"
#include "kube_token.h"
#include "log.h"

/* "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", base64 */
#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

static char tmpdir[] = "/tmp/test_kube_config.XXXXXX";
static char *log_text;
static size_t log_len;
static FILE *log_stream;

static void write_file(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void capture_log(void)
{
	free(log_text);
	log_text = NULL;
	log_stream = open_memstream(&log_text, &log_len);
	assert_non_null(log_stream);
	socklb_log_init("test", SOCKLB_LOG_INFO, log_stream, false);
}

/* Stop capturing; the text logged meanwhile is in log_text until the next capture. */
static const char *captured(void)
{
	socklb_log_init("test", SOCKLB_LOG_INFO, NULL, true);
	fclose(log_stream);
	return log_text;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	write_file("ca.crt", PEM);
	write_file("token", "  sa-token-1\n");
	write_file("client.pem", PEM);
	write_file("client.key", PEM);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	free(log_text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

/* A kubeconfig whose current context "c" uses cluster "k" with CLUSTER and user "u" with USER. */
static char *kubeconfig(const char *cluster, const char *user)
{
	char *json;

	assert_true(
		asprintf(&json,
			 "{\"kind\":\"Config\",\"apiVersion\":\"v1\",\"current-context\":\"c\","
			 "\"contexts\":[{\"name\":\"other\",\"context\":{\"cluster\":\"x\",\"user\":\"x\"}},"
			 "{\"name\":\"c\",\"context\":{\"cluster\":\"k\",\"user\":\"u\",\"namespace\":\"default\"}}],"
			 "\"clusters\":[{\"name\":\"k\",\"cluster\":{%s}}],"
			 "\"users\":[{\"name\":\"u\",\"user\":{%s}}],\"preferences\":{}}",
			 cluster, user) > 0);
	return json;
}

static char *config_path(void)
{
	char *path;

	assert_true(asprintf(&path, "%s/kubeconfig.json", tmpdir) > 0);
	return path;
}

static int parse(const char *cluster, const char *user, struct kube_conn *c)
{
	char *json = kubeconfig(cluster, user);
	char *path = config_path();
	int err = kube_conn_from_kubeconfig_json(json, path, c);

	free(json);
	free(path);
	return err;
}

/* The kubeconfig is refused, with an error containing message. */
static void assert_refused(const char *cluster, const char *user, const char *message)
{
	struct kube_conn c;
	const char *text;

	capture_log();
	assert_int_not_equal(parse(cluster, user, &c), 0);
	text = captured();
	if (!strstr(text, message))
		fail_msg("expected an error containing \"%s\", got \"%s\"", message, text);
	assert_null(c.server);
}

static void test_token_and_inline_ca(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(parse("\"server\":\"https://10.0.0.1:6443/\",\"certificate-authority-data\":\"" PEM_B64 "\"",
			       "\"token\":\"abc.def\"", &c),
			 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_int_equal(c.ca.len, strlen(PEM));
	assert_memory_equal(c.ca.data, PEM, strlen(PEM));
	assert_null(c.ca_file);
	assert_string_equal(c.token, "abc.def");
	assert_null(c.token_file);
	assert_null(c.cert.data);
	assert_null(c.cert_file);
	assert_non_null(strstr(c.origin, "context c"));
	kube_conn_free(&c);
}

static void test_token_file_and_ca_file_relative(void **state)
{
	char expected[256];
	struct kube_conn c;

	(void)state;
	/* relative names are relative to the kubeconfig's directory, as in kubectl */
	assert_int_equal(parse("\"server\":\"https://k.example\",\"certificate-authority\":\"ca.crt\"",
			       "\"tokenFile\":\"token\"", &c),
			 0);
	snprintf(expected, sizeof(expected), "%s/ca.crt", tmpdir);
	assert_string_equal(c.ca_file, expected);
	snprintf(expected, sizeof(expected), "%s/token", tmpdir);
	assert_string_equal(c.token_file, expected);
	assert_null(c.token);
	kube_conn_free(&c);
}

static void test_client_certificate_inline(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(parse("\"server\":\"https://k.example\"",
			       "\"client-certificate-data\":\"" PEM_B64 "\",\"client-key-data\":\"" PEM_B64 "\"", &c),
			 0);
	assert_memory_equal(c.cert.data, PEM, strlen(PEM));
	assert_memory_equal(c.key.data, PEM, strlen(PEM));
	assert_null(c.token);
	assert_null(c.token_file);
	/* no CA given: the system's CAs, still verified */
	assert_null(c.ca.data);
	assert_null(c.ca_file);
	kube_conn_free(&c);
}

static void test_client_certificate_files(void **state)
{
	char path[256];
	struct kube_conn c;

	(void)state;
	snprintf(path, sizeof(path), "\"client-certificate\":\"%s/client.pem\",\"client-key\":\"client.key\"", tmpdir);
	assert_int_equal(parse("\"server\":\"https://k.example\"", path, &c), 0);
	snprintf(path, sizeof(path), "%s/client.pem", tmpdir);
	assert_string_equal(c.cert_file, path);
	snprintf(path, sizeof(path), "%s/client.key", tmpdir);
	assert_string_equal(c.key_file, path);
	kube_conn_free(&c);
}

static void test_inline_wins_over_file(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(parse("\"server\":\"https://k.example\",\"certificate-authority\":\"missing.crt\","
			       "\"certificate-authority-data\":\"" PEM_B64 "\"",
			       "\"token\":\"t\"", &c),
			 0);
	assert_non_null(c.ca.data);
	assert_null(c.ca_file);
	kube_conn_free(&c);
}

static void test_insecure_is_ignored_with_a_warning(void **state)
{
	struct kube_conn c;

	(void)state;
	capture_log();
	assert_int_equal(
		parse("\"server\":\"https://k.example\",\"insecure-skip-tls-verify\":true", "\"token\":\"t\"", &c), 0);
	assert_non_null(strstr(captured(), "insecure-skip-tls-verify is ignored"));
	kube_conn_free(&c);
}

static void test_missing_fields_are_named(void **state)
{
	struct kube_conn c;
	const char *text;

	(void)state;
	assert_refused("", "\"token\":\"t\"", "clusters[\"k\"].cluster.server is missing");
	assert_refused("\"server\":\"http://k.example\"", "\"token\":\"t\"", "must be an https:// URL");
	assert_refused("\"server\":\"https://k.example\"", "",
		       "users[\"u\"].user has no token, tokenFile or client-certificate/client-key");
	assert_refused("\"server\":\"https://k.example\"", "\"exec\":{\"command\":\"aws\"}",
		       "exec, auth-provider and basic auth are not supported");
	assert_refused("\"server\":\"https://k.example\"", "\"client-certificate-data\":\"" PEM_B64 "\"",
		       "users[\"u\"].user has client-certificate but no client-key(-data)");
	assert_refused("\"server\":\"https://k.example\"", "\"client-key\":\"client.key\"",
		       "users[\"u\"].user has client-key but no client-certificate(-data)");
	assert_refused("\"server\":\"https://k.example\",\"certificate-authority-data\":\"not base64!\"",
		       "\"token\":\"t\"", "clusters[\"k\"].cluster.certificate-authority-data is not valid base64");
	assert_refused("\"server\":\"https://k.example\",\"certificate-authority\":\"nope.crt\"", "\"token\":\"t\"",
		       "clusters[\"k\"].cluster.certificate-authority: ");
	assert_refused("\"server\":\"https://k.example\"", "\"tokenFile\":\"/nonexistent/token\"",
		       "users[\"u\"].user.tokenFile: /nonexistent/token: No such file or directory");
	assert_refused("\"server\":6443", "\"token\":\"t\"", "clusters[\"k\"].cluster.server must be a string");

	/* the document itself */
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig_json("apiVersion: v1\n", "kc.yaml", &c), -EINVAL);
	assert_non_null(strstr(captured(), "kubeconfig kc.yaml: not a JSON object"));
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig_json("{\"contexts\":[]}", "kc", &c), -EINVAL);
	assert_non_null(strstr(captured(), "kubeconfig kc: current-context is missing"));
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig_json("{\"current-context\":\"c\",\"contexts\":[]}", "kc", &c),
			 -EINVAL);
	assert_non_null(strstr(captured(), "contexts has no entry named \"c\" (current-context)"));
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig_json("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\","
							"\"context\":{\"user\":\"u\"}}]}",
							"kc", &c),
			 -EINVAL);
	assert_non_null(strstr(captured(), "contexts[\"c\"].context.cluster is missing"));
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig_json("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\","
							"\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
							"\"clusters\":[{\"name\":\"k\",\"cluster\":{}}]}",
							"kc", &c),
			 -EINVAL);
	text = captured();
	assert_non_null(strstr(text, "users has no entry named \"u\" (the current context's user)"));
	capture_log();
	assert_int_equal(
		kube_conn_from_kubeconfig_json("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\"}]}", "kc", &c),
		-EINVAL);
	assert_non_null(strstr(captured(), "contexts[\"c\"].context is missing"));
}

static void test_kubeconfig_file(void **state)
{
	char *json = kubeconfig("\"server\":\"https://k.example\"", "\"token\":\"t\"");
	char *path = config_path();
	struct kube_conn c;

	(void)state;
	write_file("kubeconfig.json", json);
	assert_int_equal(kube_conn_from_kubeconfig(path, &c), 0);
	assert_string_equal(c.server, "https://k.example");
	kube_conn_free(&c);
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig("/nonexistent/kubeconfig", &c), -ENOENT);
	assert_non_null(strstr(captured(), "kubeconfig /nonexistent/kubeconfig: No such file or directory"));
	free(json);
	free(path);
}

static void test_in_cluster(void **state)
{
	char expected[256];
	struct kube_conn c;

	(void)state;
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	snprintf(expected, sizeof(expected), "%s/token", tmpdir);
	assert_string_equal(c.token_file, expected);
	snprintf(expected, sizeof(expected), "%s/ca.crt", tmpdir);
	assert_string_equal(c.ca_file, expected);
	kube_conn_free(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::1", 1);
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c), 0);
	assert_string_equal(c.server, "https://[fd00:96::1]:443");
	kube_conn_free(&c);

	/* the override needs no environment: the ClusterIP is not reachable through a socket LB's own VIPs */
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_conn_in_cluster(tmpdir, "https://192.168.1.10:6443", &c), 0);
	assert_string_equal(c.server, "https://192.168.1.10:6443");
	kube_conn_free(&c);

	capture_log();
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c), -EINVAL);
	assert_non_null(strstr(captured(), "KUBERNETES_SERVICE_HOST is not set"));
	capture_log();
	assert_int_equal(kube_conn_in_cluster("/nonexistent", "https://x", &c), -ENOENT);
	assert_non_null(strstr(captured(), "service account file /nonexistent/token: No such file or directory"));
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_server_override(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(parse("\"server\":\"https://k.example\"", "\"token\":\"t\"", &c), 0);
	assert_int_equal(kube_conn_set_server(&c, "https://127.0.0.1:6443///", "--api-server"), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	capture_log();
	assert_int_equal(kube_conn_set_server(&c, "127.0.0.1:6443", "--api-server"), -EINVAL);
	assert_non_null(strstr(captured(), "--api-server: server \"127.0.0.1:6443\" must be an https:// URL"));
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	kube_conn_free(&c);
}

static void assert_base64(const char *in, const char *out)
{
	struct kube_blob b = { 0 };

	assert_int_equal(kube_base64_decode(in, &b), 0);
	assert_int_equal(b.len, strlen(out));
	assert_memory_equal(b.data, out, b.len);
	free(b.data);
}

static void test_base64(void **state)
{
	struct kube_blob b = { 0 };

	(void)state;
	assert_base64("Zg==", "f");
	assert_base64("Zm8=", "fo");
	assert_base64("Zm9v", "foo");
	assert_base64("Zm9vYg", "foob"); /* unpadded */
	assert_base64("Zm9v\nYmFy\n", "foobar");
	assert_base64(PEM_B64, PEM);
	assert_int_equal(kube_base64_decode("", &b), -EINVAL);
	assert_int_equal(kube_base64_decode("Zm9v*", &b), -EINVAL);
	assert_int_equal(kube_base64_decode("Zg==Zg==", &b), -EINVAL);
	assert_int_equal(kube_base64_decode("Z", &b), -EINVAL);
	assert_int_equal(kube_base64_decode("Zh==", &b), -EINVAL); /* non-zero fill bits */
}

static void test_token_file_reload(void **state)
{
	char path[256];
	struct kube_token t;
	char *header;
	int err;

	(void)state;
	snprintf(path, sizeof(path), "%s/rotating-token", tmpdir);
	write_file("rotating-token", "first\n");
	assert_int_equal(kube_token_init(&t, "ignored: the file wins", path), 0);
	header = kube_token_header(&t, false, &err);
	assert_int_equal(err, 0);
	assert_string_equal(header, "Authorization: Bearer first");
	kube_token_header_free(header);

	/* rotated: the cached copy is used until it is 60 s old or a 401 asks for a reload */
	write_file("rotating-token", "second");
	header = kube_token_header(&t, false, &err);
	assert_string_equal(header, "Authorization: Bearer first");
	kube_token_header_free(header);
	capture_log();
	header = kube_token_header(&t, true, &err);
	assert_string_equal(header, "Authorization: Bearer second");
	kube_token_header_free(header);
	/* the token itself is never logged */
	assert_null(strstr(captured(), "second"));

	/* a broken file keeps the last good token */
	write_file("rotating-token", "");
	capture_log();
	header = kube_token_header(&t, true, &err);
	assert_string_equal(header, "Authorization: Bearer second");
	kube_token_header_free(header);
	assert_non_null(strstr(captured(), "the file is empty; keeping the previous token"));
	kube_token_free(&t);
}

static void test_token_fixed_and_none(void **state)
{
	struct kube_token t;
	char *header;
	int err;

	(void)state;
	assert_int_equal(kube_token_init(&t, "fixed", NULL), 0);
	header = kube_token_header(&t, true, &err);
	assert_string_equal(header, "Authorization: Bearer fixed");
	kube_token_header_free(header);
	kube_token_free(&t);

	assert_int_equal(kube_token_init(&t, NULL, NULL), 0);
	assert_null(kube_token_header(&t, false, &err));
	assert_int_equal(err, 0);
	kube_token_free(&t);

	capture_log();
	assert_int_equal(kube_token_init(&t, NULL, "/nonexistent/token"), -ENOENT);
	assert_non_null(strstr(captured(), "bearer token file /nonexistent/token: No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_inline_ca),
		cmocka_unit_test(test_token_file_and_ca_file_relative),
		cmocka_unit_test(test_client_certificate_inline),
		cmocka_unit_test(test_client_certificate_files),
		cmocka_unit_test(test_inline_wins_over_file),
		cmocka_unit_test(test_insecure_is_ignored_with_a_warning),
		cmocka_unit_test(test_missing_fields_are_named),
		cmocka_unit_test(test_kubeconfig_file),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_server_override),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_token_file_reload),
		cmocka_unit_test(test_token_fixed_and_none),
	};

	return cmocka_run_group_tests_name("kube_config", tests, setup, teardown);
}
