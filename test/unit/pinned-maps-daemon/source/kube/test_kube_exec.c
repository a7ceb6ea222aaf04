// SPDX-License-Identifier: Apache-2.0
/*
 * Exec credential plugins: a shell script stands in for a cloud's helper and
 * records each run (args, env, stdin, KUBERNETES_EXEC_INFO). The credential
 * is cached until it nears expiry, re-run after a 401 on the current one
 * only, kept when a re-run fails and it has not expired; failures name what
 * went wrong (not installed: the installHint).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube_config.h"
#include "kube_exec.h"
#include "kube_token.h"
#include "log.h"

#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define PEM_JSON "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"

static char tmpdir[] = "/tmp/test_kube_exec.XXXXXX";
/* The error context of every call: what failed is said there, not logged. */
static struct socklb_err err;
static char *log_text;
static size_t log_len;
static FILE *log_stream;

/* Records its run in ./calls, says something on stderr, prints ./reply, exits with ./status. */
static const char plugin[] = "#!/bin/sh\n"
			     "d=$(dirname \"$0\")\n"
			     "{ printf 'args=%s|region=%s|home=%s|' \"$*\" \"$REGION\" \"${HOME:+set}\"\n"
			     "  if [ -t 0 ]; then printf 'stdin=tty|'; elif read -r x; then printf 'stdin=data|';\n"
			     "  else printf 'stdin=empty|'; fi\n"
			     "  printf 'info=%s\\n' \"$KUBERNETES_EXEC_INFO\"; } >>\"$d/calls\"\n"
			     "echo 'plugin: a line on stderr' >&2\n"
			     "cat \"$d/reply\"\n"
			     "exit $(cat \"$d/status\")\n";

static void write_file(const char *name, const char *content)
{
	char path[PATH_MAX];
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

static const char *captured(void)
{
	socklb_log_init("test", SOCKLB_LOG_INFO, NULL, true);
	fclose(log_stream);
	return log_text;
}

static void assert_logged(const char *message)
{
	const char *text = captured();

	if (!strstr(text, message))
		fail_msg("expected a message containing \"%s\", got \"%s\"", message, text);
}

/* The call that just failed said message in its error context, and did not log it too. */
static void assert_failed(const char *message)
{
	const char *text = captured();

	if (!strstr(err.msg, message))
		fail_msg("expected an error containing \"%s\", got \"%s\"", message, err.msg);
	if (strstr(text, err.msg))
		fail_msg("the error was logged as well as returned: \"%s\"", err.msg);
}

/* How often the plugin ran, and its last record. */
static int calls(char *last, size_t len)
{
	char path[PATH_MAX], line[4096];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/calls", tmpdir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (last)
			snprintf(last, len, "%s", line);
	}
	fclose(f);
	return n;
}

/* The plugin's next answer: a v1 ExecCredential with this status. */
static void reply(const char *status_json)
{
	char *text;

	assert_true(asprintf(&text,
			     "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
			     "\"spec\":{\"interactive\":false},\"status\":%s}\n",
			     status_json) > 0);
	write_file("reply", text);
	free(text);
}

/* A token reply expiring in_s from now (0: no expiry). */
static void reply_token(const char *token, long in_s)
{
	char status[256], when[32];
	time_t t = time(NULL) + in_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (in_s)
		snprintf(status, sizeof(status), "{\"token\":\"%s\",\"expirationTimestamp\":\"%s\"}", token, when);
	else
		snprintf(status, sizeof(status), "{\"token\":\"%s\"}", token);
	reply(status);
}

static int setup(void **state)
{
	char path[PATH_MAX];

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	write_file("plugin.sh", plugin);
	write_file("status", "0\n");
	write_file("ca.crt", PEM);
	snprintf(path, sizeof(path), "%s/plugin.sh", tmpdir);
	return chmod(path, 0755);
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	free(log_text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static int per_test(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/calls", tmpdir);
	unlink(path);
	write_file("status", "0\n");
	return 0;
}

/* A kubeconfig in tmpdir whose user runs exec (YAML lines under `exec:`, indented by 6). */
static void load_exec(const char *exec, struct kube_conn *c)
{
	char *yaml, path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/kubeconfig", tmpdir);
	assert_true(asprintf(&yaml,
			     "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
			     "clusters:\n- cluster:\n    certificate-authority: ca.crt\n"
			     "    server: https://10.0.0.1:6443\n  name: k\n"
			     "contexts:\n- context:\n    cluster: k\n    user: u\n  name: c\n"
			     "users:\n- name: u\n  user:\n    exec:\n%s",
			     exec) > 0);
	assert_int_equal(kube_conn_parse_kubeconfig(yaml, strlen(yaml), path, NULL, c, &err), 0);
	free(yaml);
}

#define V1_PLUGIN                                                                   \
	"      apiVersion: client.authentication.k8s.io/v1\n"                       \
	"      command: ./plugin.sh\n      args:\n      - get-token\n      - b c\n" \
	"      env:\n      - name: REGION\n        value: eu-west-1\n"              \
	"      interactiveMode: Never\n"

/* The Authorization header of the next request ("" when none). */
static const char *header_of(struct kube_token *t, unsigned long refused)
{
	static char header[256];
	struct kube_credential cred;

	assert_int_equal(kube_token_get(t, refused, NULL, &cred, &err), 0);
	snprintf(header, sizeof(header), "%s", cred.header ? cred.header : "");
	kube_credential_free(&cred);
	return header;
}

static void test_plugin_input(void **state)
{
	struct kube_conn c;
	struct kube_token t;
	char last[4096];

	(void)state;
	/* the plugin's exec.env wins over the daemon's own; the rest of the daemon's passes */
	setenv("REGION", "the daemon's", 1);
	load_exec(V1_PLUGIN "      provideClusterInfo: true\n", &c);
	reply_token("t1", 0);
	capture_log();
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	/* its stderr reaches our log; the token never does */
	assert_logged("/./plugin.sh: stderr: plugin: a line on stderr");
	assert_null(strstr(log_text, "t1"));
	assert_int_equal(calls(last, sizeof(last)), 1);
	assert_non_null(strstr(last,
			       "args=get-token b c|region=eu-west-1|home=set|stdin=empty|info={\"kind\":"
			       "\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
			       "\"spec\":{\"interactive\":false,\"cluster\":{\"server\":\"https://10.0.0.1:6443\","
			       "\"certificate-authority-data\":\"LS0t"));
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t1");
	kube_token_free(&t);
	kube_conn_free(&c);
	unsetenv("REGION");
}

static void test_cached_until_refused(void **state)
{
	struct kube_conn c;
	struct kube_token t;
	unsigned long first;

	(void)state;
	load_exec(V1_PLUGIN, &c);
	reply_token("t1", 0);
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	first = t.generation;
	reply_token("t2", 0);
	/* no expiry: the credential is used until the API server refuses it */
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t1");
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t1");
	assert_int_equal(calls(NULL, 0), 1);
	capture_log();
	assert_string_equal(header_of(&t, first), "Authorization: Bearer t2");
	assert_logged("the API server refused the credential (401); running it again");
	assert_int_equal(calls(NULL, 0), 2);
	/* another thread's 401 on the credential already replaced: no second run */
	assert_string_equal(header_of(&t, first), "Authorization: Bearer t2");
	assert_int_equal(calls(NULL, 0), 2);
	kube_token_free(&t);
	kube_conn_free(&c);
}

static void test_renewed_before_expiry(void **state)
{
	struct kube_conn c;
	struct kube_token t;

	(void)state;
	load_exec(V1_PLUGIN, &c);
	reply_token("t1", 3600);
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t1");
	assert_int_equal(calls(NULL, 0), 1);

	/* expires within KUBE_EXEC_RENEW_S: the next request runs the plugin first */
	reply_token("t2", KUBE_EXEC_RENEW_S / 2);
	assert_string_equal(header_of(&t, t.generation), "Authorization: Bearer t2");
	assert_int_equal(calls(NULL, 0), 2);
	reply_token("t3", 3600);
	capture_log();
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t3");
	assert_logged("the credential is about to expire; running it again");
	assert_int_equal(calls(NULL, 0), 3);
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t3");
	assert_int_equal(calls(NULL, 0), 3);
	kube_token_free(&t);
	kube_conn_free(&c);
}

static void test_failure_keeps_a_live_credential(void **state)
{
	struct kube_credential cred;
	struct kube_conn c;
	struct kube_token t;

	(void)state;
	load_exec(V1_PLUGIN, &c);
	reply_token("t1", KUBE_EXEC_RENEW_S / 2);
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	write_file("status", "1\n");
	capture_log();
	assert_string_equal(header_of(&t, 0), "Authorization: Bearer t1");
	assert_logged("plugin.sh exited with status 1: plugin: a line on stderr; keeping the previous credential");
	kube_token_free(&t);

	/* expired, and the plugin fails: no credential at all */
	write_file("status", "0\n");
	reply_token("t1", -10);
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	write_file("status", "1\n");
	capture_log();
	assert_int_equal(kube_token_get(&t, 0, NULL, &cred, &err), -ENOKEY);
	assert_failed("plugin.sh exited with status 1: plugin: a line on stderr; the previous credential has expired");
	kube_token_free(&t);
	kube_conn_free(&c);
}

static void test_client_certificate(void **state)
{
	struct kube_credential cred;
	struct kube_conn c;
	struct kube_token t;

	(void)state;
	load_exec("      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ./plugin.sh\n", &c);
	write_file("reply",
		   "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		   "\"status\":{\"clientCertificateData\":\"" PEM_JSON "\",\"clientKeyData\":\"" PEM_JSON "\"}}");
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), 0);
	assert_int_equal(kube_token_get(&t, 0, NULL, &cred, &err), 0);
	assert_null(cred.header);
	assert_int_equal(cred.cert.len, strlen(PEM));
	assert_memory_equal(cred.cert.data, PEM, strlen(PEM));
	assert_memory_equal(cred.key.data, PEM, strlen(PEM));
	kube_credential_free(&cred);
	kube_token_free(&t);
	kube_conn_free(&c);
}

/* The plugin's answer is refused with a message containing message. */
static void assert_reply_refused(const char *text, const char *message)
{
	struct kube_conn c;
	struct kube_token t;

	load_exec(V1_PLUGIN, &c);
	write_file("reply", text);
	capture_log();
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), -EPROTO);
	assert_failed(message);
	kube_conn_free(&c);
}

static void test_failures_are_named(void **state)
{
	struct kube_conn c;
	struct kube_token t;

	(void)state;
	load_exec("      apiVersion: client.authentication.k8s.io/v1\n      command: socklb-no-such-plugin\n"
		  "      installHint: 'install it with: apt-get install socklb-no-such-plugin'\n"
		  "      interactiveMode: IfAvailable\n",
		  &c);
	capture_log();
	assert_int_equal(kube_token_init(&t, NULL, NULL, c.exec, &err), -ENOENT);
	assert_failed("exec credential plugin: executable socklb-no-such-plugin not found; its install hint: install "
		      "it with: apt-get install socklb-no-such-plugin");
	kube_conn_free(&c);

	write_file("status", "3\n");
	assert_reply_refused("", "plugin.sh exited with status 3: plugin: a line on stderr");
	write_file("status", "0\n");
	assert_reply_refused("not json", "plugin.sh printed no JSON object on stdout (8 bytes)");
	assert_reply_refused("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
			     "\"status\":{\"token\":\"t\"}}",
			     "returned apiVersion \"client.authentication.k8s.io/v1beta1\", the kubeconfig asks for "
			     "client.authentication.k8s.io/v1");
	assert_reply_refused("{\"kind\":\"Status\",\"apiVersion\":\"client.authentication.k8s.io/v1\"}",
			     "returned kind \"Status\", not ExecCredential");
	assert_reply_refused("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\"}",
			     "returned an ExecCredential without status");
	assert_reply_refused("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
			     "\"status\":{}}",
			     "returned neither status.token nor status.clientCertificateData/clientKeyData");
	assert_reply_refused("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
			     "\"status\":{\"clientCertificateData\":\"x\"}}",
			     "returned status.clientCertificateData without status.clientKeyData");
	assert_reply_refused("{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
			     "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
			     "returned a status.expirationTimestamp that is not an RFC 3339 time");
}

static void test_stop_cancels_a_run(void **state)
{
	struct kube_exec_cred cred;
	atomic_bool stop = true;
	struct kube_conn c;

	(void)state;
	load_exec(V1_PLUGIN, &c);
	reply_token("t1", 0);
	assert_int_equal(kube_exec_run(c.exec, &stop, &cred, &err), -ECANCELED);
	assert_non_null(strstr(err.msg, "stopped before"));
	assert_int_equal(calls(NULL, 0), 0);
	kube_conn_free(&c);
}

static void *stop_soon(void *stop)
{
	usleep(300000);
	atomic_store((atomic_bool *)stop, true);
	return NULL;
}

static void test_stop_kills_a_running_plugin(void **state)
{
	struct kube_exec_cred cred;
	atomic_bool stop = false;
	struct timespec t0, t1;
	struct kube_conn c;
	pthread_t thread;

	(void)state;
	load_exec(
		"      apiVersion: client.authentication.k8s.io/v1beta1\n      command: sleep\n      args: [\"30\"]\n",
		&c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&thread, NULL, stop_soon, &stop), 0);
	assert_int_equal(kube_exec_run(c.exec, &stop, &cred, &err), -ECANCELED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(thread, NULL);
	assert_string_equal(err.msg, "stopped while sleep was running");
	/* killed, not waited for (a diagnostic: timings are not checked) */
	printf("# a plugin sleeping 30 s returned %ld ms after the start, the stop came at 300 ms\n",
	       (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	kube_conn_free(&c);
}

static void assert_time(const char *s, time_t want)
{
	time_t t = 0;

	assert_int_equal(kube_rfc3339_parse(s, &t), 0);
	assert_int_equal(t, want);
}

static void test_rfc3339(void **state)
{
	time_t t;

	(void)state;
	assert_time("2024-01-02T03:04:05Z", 1704164645);
	assert_time("2024-01-02T03:04:05.123456789Z", 1704164645);
	assert_time("2024-01-02t03:04:05z", 1704164645);
	assert_time("2024-01-02T04:04:05+01:00", 1704164645);
	assert_time("2024-01-01T23:04:05-04:00", 1704164645);
	assert_int_equal(kube_rfc3339_parse("2024-01-02T03:04:05", &t), -EINVAL);
	assert_int_equal(kube_rfc3339_parse("2024-01-02", &t), -EINVAL);
	assert_int_equal(kube_rfc3339_parse("2024-01-02T03:04:05+0100", &t), -EINVAL);
	assert_int_equal(kube_rfc3339_parse("2024-01-02T25:04:05Z", &t), -EINVAL);
	assert_int_equal(kube_rfc3339_parse("2024-01-02T03:04:05.Z", &t), -EINVAL);
	assert_int_equal(kube_rfc3339_parse("2024-01-02T03:04:05Zjunk", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plugin_input, per_test),
		cmocka_unit_test_setup(test_cached_until_refused, per_test),
		cmocka_unit_test_setup(test_renewed_before_expiry, per_test),
		cmocka_unit_test_setup(test_failure_keeps_a_live_credential, per_test),
		cmocka_unit_test_setup(test_client_certificate, per_test),
		cmocka_unit_test_setup(test_failures_are_named, per_test),
		cmocka_unit_test_setup(test_stop_cancels_a_run, per_test),
		cmocka_unit_test_setup(test_stop_kills_a_running_plugin, per_test),
		cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests_name("kube_exec", tests, setup, teardown);
}
