// SPDX-License-Identifier: Apache-2.0
/*
 * Connection settings: every kubeconfig auth form, in JSON and in YAML as
 * kubectl writes it (test/fixtures/kubeconfig/), contexts, in-cluster config,
 * and a clear error naming the field for each thing that can be missing,
 * wrong or unsupported.
 * The bearer token file: read at start, re-read on demand.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
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
/* The error context of every call: what failed is said there, not logged. */
static struct socklb_err err;
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

/* Stop capturing: the error of the call that failed meanwhile, which the library must not have logged too. */
static const char *failed(void)
{
	const char *log = captured();

	if (strstr(log, err.msg))
		fail_msg("the error was logged as well as returned: \"%s\"", err.msg);
	return err.msg;
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
	int ret = kube_conn_parse_kubeconfig(json, strlen(json), path, NULL, c, &err);

	free(json);
	free(path);
	return ret;
}

/* The kubeconfig is refused, with an error containing message. */
static void assert_refused(const char *cluster, const char *user, const char *message)
{
	struct kube_conn c;
	const char *text;

	capture_log();
	assert_int_not_equal(parse(cluster, user, &c), 0);
	text = failed();
	if (!strstr(text, message))
		fail_msg("expected an error containing \"%s\", got \"%s\"", message, text);
	assert_null(c.server);
}

static int parse_text(const char *text, const char *path, struct kube_conn *c)
{
	return kube_conn_parse_kubeconfig(text, strlen(text), path, NULL, c, &err);
}

/* The document text is refused with an error containing message. */
static void assert_document_refused(const char *text, const char *message)
{
	struct kube_conn c;
	const char *log;

	capture_log();
	assert_int_equal(parse_text(text, "kc", &c), -EINVAL);
	log = failed();
	if (!strstr(log, message))
		fail_msg("expected an error containing \"%s\", got \"%s\"", message, log);
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

static void test_insecure_only_with_a_warning(void **state)
{
	struct kube_conn c;

	(void)state;
	capture_log();
	assert_int_equal(
		parse("\"server\":\"https://k.example\",\"insecure-skip-tls-verify\":true", "\"token\":\"t\"", &c), 0);
	assert_true(c.insecure);
	assert_non_null(strstr(captured(), "clusters[\"k\"].cluster.insecure-skip-tls-verify is true: the API "
					   "server's certificate is NOT verified"));
	kube_conn_free(&c);
	/* a CA as well: which one was meant? client-go refuses it too */
	assert_refused("\"server\":\"https://k.example\",\"insecure-skip-tls-verify\":true,"
		       "\"certificate-authority-data\":\"" PEM_B64 "\"",
		       "\"token\":\"t\"",
		       "clusters[\"k\"].cluster has both insecure-skip-tls-verify and certificate-authority-data");
	assert_refused("\"server\":\"https://k.example\",\"insecure-skip-tls-verify\":\"yes\"", "\"token\":\"t\"",
		       "clusters[\"k\"].cluster.insecure-skip-tls-verify must be true or false");
}

static void test_missing_fields_are_named(void **state)
{
	struct kube_conn c;
	const char *text;

	(void)state;
	assert_refused("", "\"token\":\"t\"", "clusters[\"k\"].cluster.server is missing");
	assert_refused("\"server\":\"http://k.example\"", "\"token\":\"t\"", "must be an https:// URL");
	assert_refused("\"server\":\"https://k.example\"", "",
		       "users[\"u\"].user has no token, tokenFile, client-certificate/client-key or exec");
	assert_refused("\"server\":\"https://k.example\"", "\"exec\":{\"command\":\"aws\"}",
		       "users[\"u\"].user.exec.apiVersion is missing");
	assert_refused(
		"\"server\":\"https://k.example\"", "\"auth-provider\":{\"name\":\"oidc\"}",
		"users[\"u\"].user.auth-provider is not supported: its providers (gcp, azure, oidc) were removed");
	assert_refused("\"server\":\"https://k.example\"", "\"username\":\"admin\",\"password\":\"x\"",
		       "users[\"u\"].user.username is not supported: basic authentication was removed");
	assert_refused("\"server\":\"https://k.example\"", "\"token\":\"t\",\"as\":\"admin\"",
		       "users[\"u\"].user.as is not supported: impersonation");
	assert_refused("\"server\":\"https://k.example\",\"tls-server-name\":\"k/x\"", "\"token\":\"t\"",
		       "clusters[\"k\"].cluster.tls-server-name \"k/x\" is neither a DNS name nor an IP address");
	assert_refused("\"server\":\"https://k.example\",\"tls-server-name\":[\"k\"]", "\"token\":\"t\"",
		       "clusters[\"k\"].cluster.tls-server-name");
	assert_refused("\"server\":\"https://k.example\",\"proxy-url\":\"ftp://p\"", "\"token\":\"t\"",
		       "clusters[\"k\"].cluster.proxy-url \"ftp://p\" must be an http://, https:// or socks5:// URL");
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
	assert_document_refused("apiVersion: v1\n",
				"kubeconfig kc: current-context is not set: choose a context with --context");
	assert_document_refused("{\"contexts\":[]}", "kubeconfig kc: current-context is not set");
	assert_document_refused("{\"contexts\":[}", "kubeconfig kc: invalid JSON at byte 13");
	assert_document_refused("[1, 2]", "kubeconfig kc: not a kubeconfig");
	assert_document_refused("", "kubeconfig kc: the document is empty");
	assert_document_refused("a: 1\n---\nb: 2\n",
				"kubeconfig kc: more than one YAML document (the second starts at line 2)");
	assert_document_refused("clusters:\n- name: a\n  cluster: {server: [}\n",
				"kubeconfig kc: invalid YAML at line 3, column 22: while parsing a flow node");
	assert_document_refused("a: &a [*a, *a]\n", "kubeconfig kc: the document nests deeper than 64 levels");
	assert_document_refused("{\"current-context\":\"c\",\"contexts\":[]}",
				"contexts has no entry named \"c\" (current-context)");
	capture_log();
	assert_int_equal(parse_text("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\","
				    "\"context\":{\"user\":\"u\"}}]}",
				    "kc", &c),
			 -EINVAL);
	assert_non_null(strstr(failed(), "contexts[\"c\"].context.cluster is missing"));
	capture_log();
	assert_int_equal(parse_text("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\","
				    "\"context\":{\"cluster\":\"k\",\"user\":\"u\"}}],"
				    "\"clusters\":[{\"name\":\"k\",\"cluster\":{}}]}",
				    "kc", &c),
			 -EINVAL);
	text = failed();
	assert_non_null(strstr(text, "users has no entry named \"u\" (the context's user)"));
	capture_log();
	assert_int_equal(parse_text("{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\"}]}", "kc", &c), -EINVAL);
	assert_non_null(strstr(failed(), "contexts[\"c\"].context is missing"));
}

static void test_kubeconfig_file(void **state)
{
	char *json = kubeconfig("\"server\":\"https://k.example\"", "\"token\":\"t\"");
	char *path = config_path();
	struct kube_conn c;

	(void)state;
	write_file("kubeconfig.json", json);
	assert_int_equal(kube_conn_from_kubeconfig(path, NULL, &c, &err), 0);
	assert_string_equal(c.server, "https://k.example");
	kube_conn_free(&c);
	capture_log();
	assert_int_equal(kube_conn_from_kubeconfig("/nonexistent/kubeconfig", NULL, &c, &err), -ENOENT);
	assert_non_null(strstr(failed(), "kubeconfig: cannot open /nonexistent/kubeconfig: No such file or directory"));
	free(json);
	free(path);
}

/* test/fixtures/kubeconfig/name copied into tmpdir (beside ca.crt, client.pem, ...); its path there. */
static char *fixture(const char *name)
{
	char src[PATH_MAX], exe[PATH_MAX], cmd[3 * PATH_MAX], *dst;
	ssize_t n;

	snprintf(src, sizeof(src), "test/fixtures/kubeconfig/%s", name);
	if (access(src, R_OK) != 0) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(src, sizeof(src), "%s/../../test/fixtures/kubeconfig/%s", exe, name);
	}
	assert_true(asprintf(&dst, "%s/%s", tmpdir, name) > 0);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	assert_int_equal(system(cmd), 0);
	return dst;
}

/* The kubeconfig fixture with context (NULL: its current-context): parsed, or refused naming message. */
static int load_fixture(const char *name, const char *context, struct kube_conn *c, const char *message)
{
	char *path = fixture(name);
	const char *said;
	int ret;

	capture_log();
	ret = kube_conn_from_kubeconfig(path, context, c, &err);
	said = ret ? failed() : captured();
	if (message && !strstr(said, message))
		fail_msg("expected a message containing \"%s\", got \"%s\"", message, said);
	free(path);
	return ret;
}

static char *in_tmpdir(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* What kubectl writes for kind (the current context), kubeadm (files) and token users. */
/* tls-server-name: kept as written (a name or an address), and passed to an exec plugin as client-go does */
static void test_tls_server_name(void **state)
{
	static const char exec[] = "\"exec\":{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"command\":\"x\","
				   "\"interactiveMode\":\"Never\",\"provideClusterInfo\":true}";
	struct kube_conn c;
	cJSON *info;

	(void)state;
	assert_int_equal(
		parse("\"server\":\"https://10.0.0.1:6443\",\"tls-server-name\":\"kubernetes.default.svc\"", exec, &c),
		0);
	assert_string_equal(c.tls_server_name, "kubernetes.default.svc");
	info = cJSON_Parse(c.exec->exec_info);
	assert_string_equal(
		cJSON_GetStringValue(cJSON_GetObjectItem(
			cJSON_GetObjectItem(cJSON_GetObjectItem(info, "spec"), "cluster"), "tls-server-name")),
		"kubernetes.default.svc");
	cJSON_Delete(info);
	kube_conn_free(&c);

	assert_int_equal(
		parse("\"server\":\"https://k.example\",\"tls-server-name\":\"fd00::1\"", "\"token\":\"t\"", &c), 0);
	assert_string_equal(c.tls_server_name, "fd00::1");
	kube_conn_free(&c);

	/* empty: unset, as in client-go */
	assert_int_equal(parse("\"server\":\"https://k.example\",\"tls-server-name\":\"\"", "\"token\":\"t\"", &c), 0);
	assert_null(c.tls_server_name);
	kube_conn_free(&c);
}

static void test_yaml_as_kubectl_writes_it(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(load_fixture("kubeconfig.yaml", NULL, &c, NULL), 0);
	assert_string_equal(c.server, "https://127.0.0.1:40123");
	assert_memory_equal(c.ca.data, PEM, strlen(PEM));
	assert_memory_equal(c.cert.data, PEM, strlen(PEM));
	assert_memory_equal(c.key.data, PEM, strlen(PEM));
	assert_null(c.token);
	assert_null(c.exec);
	assert_non_null(strstr(c.origin, "(context kind-kind)"));
	kube_conn_free(&c);

	assert_int_equal(load_fixture("kubeconfig.yaml", "prod-token", &c, NULL), 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_string_equal(c.ca_file, in_tmpdir("ca.crt"));
	assert_string_equal(c.token, "abc.def");
	assert_false(c.insecure);
	kube_conn_free(&c);

	assert_int_equal(load_fixture("kubeconfig.yaml", "prod-file", &c, NULL), 0);
	assert_string_equal(c.token_file, in_tmpdir("token"));
	kube_conn_free(&c);

	assert_int_equal(load_fixture("kubeconfig.yaml", "prod-certs", &c, NULL), 0);
	assert_string_equal(c.cert_file, in_tmpdir("client.pem"));
	assert_string_equal(c.key_file, in_tmpdir("client.key"));
	kube_conn_free(&c);

	assert_int_equal(load_fixture("kubeconfig.yaml", "proxied", &c, NULL), 0);
	assert_string_equal(c.proxy_url, "http://proxy.example:3128");
	kube_conn_free(&c);

	assert_int_equal(load_fixture("kubeconfig.yaml", "lab", &c, "insecure-skip-tls-verify is true"), 0);
	assert_true(c.insecure);
	kube_conn_free(&c);

	/* `kubectl config view --raw -o json` of one context: JSON stays accepted */
	assert_int_equal(load_fixture("kubeconfig.json", NULL, &c, NULL), 0);
	assert_string_equal(c.token, "abc.def");
	assert_string_equal(c.ca_file, in_tmpdir("ca.crt"));
	kube_conn_free(&c);
}

static void test_yaml_exec_users(void **state)
{
	struct kube_conn c;
	cJSON *info;

	(void)state;
	assert_int_equal(load_fixture("kubeconfig.yaml", "prod-exec", &c, NULL), 0);
	assert_non_null(c.exec);
	assert_string_equal(c.exec->api_version, "client.authentication.k8s.io/v1");
	assert_string_equal(c.exec->argv[0], "/usr/local/bin/cloud-auth");
	assert_string_equal(c.exec->argv[1], "token");
	assert_string_equal(c.exec->argv[2], "--cluster=prod");
	assert_null(c.exec->argv[3]);
	assert_string_equal(c.exec->env[0], "REGION=eu-west-1");
	assert_null(c.exec->env[1]);
	assert_string_equal(c.exec->install_hint, "install cloud-auth from your cloud's SDK");
	/* provideClusterInfo: the server and the CA file's bytes, as client-go passes them */
	info = cJSON_Parse(c.exec->exec_info);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(info, "kind")), "ExecCredential");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(info, "apiVersion")),
			    "client.authentication.k8s.io/v1");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(info, "spec"), "interactive")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(cJSON_GetObjectItem(info, "spec"), "cluster"), "server")),
			    "https://10.0.0.1:6443");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(cJSON_GetObjectItem(info, "spec"), "cluster"),
				    "certificate-authority-data")),
			    PEM_B64);
	cJSON_Delete(info);
	kube_conn_free(&c);

	/* v1beta1 as kubectl writes it: args and env null, IfAvailable, no cluster info */
	assert_int_equal(load_fixture("kubeconfig.yaml", "prod-gke", &c, NULL), 0);
	assert_string_equal(c.exec->argv[0], "gke-gcloud-auth-plugin");
	assert_null(c.exec->argv[1]);
	assert_null(c.exec->env[0]);
	assert_string_equal(c.exec->exec_info,
			    "{\"kind\":\"ExecCredential\",\"apiVersion\":"
			    "\"client.authentication.k8s.io/v1beta1\",\"spec\":{\"interactive\":false}}");
	kube_conn_free(&c);
}

static void test_yaml_refusals_name_the_field(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(load_fixture("kubeconfig.yaml", "legacy-gcp", &c,
				      "kubeconfig.yaml: users[\"gcp\"].user.auth-provider is not supported"),
			 -EOPNOTSUPP);
	assert_int_equal(load_fixture("kubeconfig.yaml", "nope", &c,
				      "kubeconfig.yaml: contexts has no entry named \"nope\" (--context)"),
			 -EINVAL);
}

/* A YAML kubeconfig whose user is USER (YAML lines under `user:`, indented by 4). */
static int parse_yaml_user(const char *user, struct kube_conn *c, const char *message)
{
	char *yaml, *path = config_path();
	const char *said;
	int ret;

	assert_true(asprintf(&yaml,
			     "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
			     "clusters:\n- cluster:\n    server: https://k.example\n  name: k\n"
			     "contexts:\n- context:\n    cluster: k\n    user: u\n  name: c\n"
			     "users:\n- name: u\n  user:\n%s",
			     user) > 0);
	capture_log();
	ret = kube_conn_parse_kubeconfig(yaml, strlen(yaml), path, NULL, c, &err);
	said = ret ? failed() : captured();
	if (message && !strstr(said, message))
		fail_msg("expected a message containing \"%s\", got \"%s\"", message, said);
	free(yaml);
	free(path);
	return ret;
}

static void test_yaml_scalars_and_exec_fields(void **state)
{
	char expected[PATH_MAX];
	struct kube_conn c;

	(void)state;
	/* a plain number is still a string where a string is meant */
	assert_int_equal(parse_yaml_user("    token: 12345\n", &c, NULL), 0);
	assert_string_equal(c.token, "12345");
	kube_conn_free(&c);
	assert_int_equal(parse_yaml_user("    token: 'abc'   # a comment\n", &c, NULL), 0);
	assert_string_equal(c.token, "abc");
	kube_conn_free(&c);

	/* a command with a '/' is relative to the kubeconfig's directory; a bare name is found in PATH */
	assert_int_equal(parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
					 "      command: ./bin/auth\n      interactiveMode: Never\n",
					 &c, NULL),
			 0);
	snprintf(expected, sizeof(expected), "%s/./bin/auth", tmpdir);
	assert_string_equal(c.exec->argv[0], expected);
	kube_conn_free(&c);

	/* a user with a token and a plugin: the token, as kubectl */
	assert_int_equal(parse_yaml_user("    token: t\n    exec:\n      command: x\n", &c, "exec is not used"), 0);
	assert_null(c.exec);
	kube_conn_free(&c);

	assert_int_equal(
		parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: x\n", &c,
				"users[\"u\"].user.exec.interactiveMode is missing"),
		-EINVAL);
	assert_int_equal(
		parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
				"      command: x\n      interactiveMode: Always\n",
				&c, "users[\"u\"].user.exec.interactiveMode is Always: the plugin needs a terminal"),
		-EINVAL);
	assert_int_equal(parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
					 "      command: x\n",
					 &c, "v1alpha1 was removed in Kubernetes 1.24"),
			 -EINVAL);
	assert_int_equal(parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n", &c,
					 "users[\"u\"].user.exec.command is missing"),
			 -EINVAL);
	assert_int_equal(parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
					 "      command: x\n      args: [a, [b]]\n",
					 &c, "users[\"u\"].user.exec.args[1] must be a string"),
			 -EINVAL);
	assert_int_equal(parse_yaml_user("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
					 "      command: x\n      env:\n      - value: v\n",
					 &c, "users[\"u\"].user.exec.env[0].name must be a variable name"),
			 -EINVAL);
	assert_int_equal(parse_yaml_user("    exec: x\n", &c, "users[\"u\"].user.exec must be a mapping"), -EINVAL);
}

static void test_in_cluster(void **state)
{
	char expected[256];
	struct kube_conn c;

	(void)state;
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c, &err), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	snprintf(expected, sizeof(expected), "%s/token", tmpdir);
	assert_string_equal(c.token_file, expected);
	snprintf(expected, sizeof(expected), "%s/ca.crt", tmpdir);
	assert_string_equal(c.ca_file, expected);
	kube_conn_free(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::1", 1);
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c, &err), 0);
	assert_string_equal(c.server, "https://[fd00:96::1]:443");
	kube_conn_free(&c);

	/* the override needs no environment: the ClusterIP is not reachable through a socket LB's own VIPs */
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_conn_in_cluster(tmpdir, "https://192.168.1.10:6443", &c, &err), 0);
	assert_string_equal(c.server, "https://192.168.1.10:6443");
	kube_conn_free(&c);

	capture_log();
	assert_int_equal(kube_conn_in_cluster(tmpdir, NULL, &c, &err), -EINVAL);
	assert_non_null(strstr(failed(), "KUBERNETES_SERVICE_HOST is not set"));
	capture_log();
	assert_int_equal(kube_conn_in_cluster("/nonexistent", "https://x", &c, &err), -ENOENT);
	assert_non_null(strstr(failed(), "service account file /nonexistent/token: No such file or directory"));
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_server_override(void **state)
{
	struct kube_conn c;

	(void)state;
	assert_int_equal(parse("\"server\":\"https://k.example\"", "\"token\":\"t\"", &c), 0);
	assert_int_equal(kube_conn_set_server(&c, "https://127.0.0.1:6443///", "--api-server", &err), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	capture_log();
	assert_int_equal(kube_conn_set_server(&c, "127.0.0.1:6443", "--api-server", &err), -EINVAL);
	assert_non_null(strstr(failed(), "--api-server: server \"127.0.0.1:6443\" must be an https:// URL"));
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

/* The Authorization header the next request would carry ("" when none); refused as kube_token_get() takes it. */
static const char *header_of(struct kube_token *t, unsigned long refused)
{
	static char header[256];
	struct kube_credential cred;

	assert_int_equal(kube_token_get(t, refused, NULL, &cred, &err), 0);
	snprintf(header, sizeof(header), "%s", cred.header ? cred.header : "");
	assert_null(cred.cert.data);
	kube_credential_free(&cred);
	return header;
}

static void test_token_file_reload(void **state)
{
	char path[256];
	struct kube_token t;

	(void)state;
	snprintf(path, sizeof(path), "%s/rotating-token", tmpdir);
	write_file("rotating-token", "first\n");
	assert_int_equal(kube_token_init(&t, "ignored: the file wins", path, NULL, &err), 0);
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer first");

	/* rotated: the cached copy is used until it is 60 s old or a 401 asks for a reload */
	write_file("rotating-token", "second");
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer first");
	capture_log();
	assert_string_equal(header_of(&t, t.generation), "Authorization: Bearer second");
	/* the token itself is never logged */
	assert_null(strstr(captured(), "second"));

	/* a broken file keeps the last good token */
	write_file("rotating-token", "");
	capture_log();
	assert_string_equal(header_of(&t, t.generation), "Authorization: Bearer second");
	assert_non_null(strstr(captured(), "the file is empty; keeping the previous token"));
	kube_token_free(&t);
}

static void test_token_fixed_and_none(void **state)
{
	struct kube_token t;

	(void)state;
	assert_int_equal(kube_token_init(&t, "fixed", NULL, NULL, &err), 0);
	assert_string_equal(header_of(&t, t.generation), "Authorization: Bearer fixed");
	kube_token_free(&t);

	assert_int_equal(kube_token_init(&t, NULL, NULL, NULL, &err), 0);
	assert_string_equal(header_of(&t, 0), "");
	kube_token_free(&t);

	capture_log();
	assert_int_equal(kube_token_init(&t, NULL, "/nonexistent/token", NULL, &err), -ENOENT);
	assert_non_null(strstr(failed(), "bearer token file /nonexistent/token: No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_inline_ca),
		cmocka_unit_test(test_token_file_and_ca_file_relative),
		cmocka_unit_test(test_client_certificate_inline),
		cmocka_unit_test(test_client_certificate_files),
		cmocka_unit_test(test_inline_wins_over_file),
		cmocka_unit_test(test_insecure_only_with_a_warning),
		cmocka_unit_test(test_missing_fields_are_named),
		cmocka_unit_test(test_kubeconfig_file),
		cmocka_unit_test(test_tls_server_name),
		cmocka_unit_test(test_yaml_as_kubectl_writes_it),
		cmocka_unit_test(test_yaml_exec_users),
		cmocka_unit_test(test_yaml_refusals_name_the_field),
		cmocka_unit_test(test_yaml_scalars_and_exec_fields),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_server_override),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_token_file_reload),
		cmocka_unit_test(test_token_fixed_and_none),
	};

	return cmocka_run_group_tests_name("kube_config", tests, setup, teardown);
}
