// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes API source against the test API server (test/apiserver/,
 * real HTTPS with a CA made here): the store must follow the server through
 * paginated lists, split events, bookmarks, 410s, dropped and stalled
 * connections, token rotation and client certificates; TLS is verified.
 * Needs python3 and openssl, not root.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s_service.h"
#include "kube.h"
#include "lbmap.h"
#include "log.h"
#include "store.h"

#define WAIT_MS 8000

static char dir[] = "/tmp/test_kube_source.XXXXXX";
static char apiserver_dir[PATH_MAX];
static pid_t server_pid;
static int api_port, control_port;

/* Test harness ------------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* test/apiserver/ of this checkout: from the working directory or next to build/test/. */
static int find_apiserver_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (access("test/apiserver/apiserver.py", R_OK) == 0)
		return realpath("test/apiserver", apiserver_dir) ? 0 : -errno;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 40);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	strcat(exe, "/../../test/apiserver");
	return realpath(exe, apiserver_dir) ? 0 : -errno;
}

static void write_file(const char *name, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static size_t collect_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	FILE *out = userdata;

	return fwrite(data, size, nmemb, out);
}

/* A control request; returns the answer (malloc'd). */
static char *ctl(const char *path, const char *body)
{
	char url[256], *answer = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&answer, &len);
	CURL *curl = curl_easy_init();
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", control_port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	fclose(out);
	if (rc != CURLE_OK || status != 200)
		fail_msg("control %s %s: %s HTTP %ld: %s", path, body ? body : "", curl_easy_strerror(rc), status,
			 answer);
	return answer;
}

static void ctl_post(const char *path, const char *body)
{
	free(ctl(path, body));
}

static int start_server(void)
{
	char cmd[PATH_MAX * 2], ports_file[PATH_MAX], arg[5][PATH_MAX], log_path[PATH_MAX];
	cJSON *ports = NULL;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "bash %s/gen-certs.sh %s", apiserver_dir, dir);
	if (system(cmd) != 0)
		return -1;
	write_file("token", "token-1\n");
	snprintf(ports_file, sizeof(ports_file), "%s/ports", dir);
	snprintf(log_path, sizeof(log_path), "%s/apiserver.log", dir);
	snprintf(arg[0], PATH_MAX, "%s/apiserver.py", apiserver_dir);
	snprintf(arg[1], PATH_MAX, "%s/server.pem", dir);
	snprintf(arg[2], PATH_MAX, "%s/server.key", dir);
	snprintf(arg[3], PATH_MAX, "%s/token", dir);
	snprintf(arg[4], PATH_MAX, "%s/ca.pem", dir);
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("python3", "python3", arg[0], "--cert", arg[1], "--key", arg[2], "--token-file", arg[3],
		       "--client-ca", arg[4], "--ports-file", ports_file, (char *)NULL);
		_exit(127);
	}
	for (long deadline = now_ms() + 10000; now_ms() < deadline; usleep(20000)) {
		char buf[128] = "";

		f = fopen(ports_file, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		ports = cJSON_Parse(buf);
		break;
	}
	if (!ports)
		return -1;
	api_port = cJSON_GetObjectItem(ports, "api")->valueint;
	control_port = cJSON_GetObjectItem(ports, "control")->valueint;
	cJSON_Delete(ports);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (getenv("KUBE_TEST_VERBOSE"))
		socklb_log_init("test_kube_source", SOCKLB_LOG_DEBUG, NULL, true);
	else
		socklb_log_init("test_kube_source", SOCKLB_LOG_WARN, NULL, true);
	if (find_apiserver_dir() || !mkdtemp(dir)) {
		fprintf(stderr, "# test/apiserver not found or no temporary directory\n");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return start_server();
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * A kubeconfig named name: the test server with CA ca (a file here), and
 * user fields (JSON members).
 */
static void write_kubeconfig(const char *name, const char *ca, const char *user)
{
	char *json;

	assert_true(asprintf(&json,
			     "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"test\","
			     "\"contexts\":[{\"name\":\"test\",\"context\":{\"cluster\":\"test\",\"user\":\"syncd\"}}],"
			     "\"clusters\":[{\"name\":\"test\",\"cluster\":{\"server\":\"https://127.0.0.1:%d\","
			     "\"certificate-authority\":\"%s\"}}],"
			     "\"users\":[{\"name\":\"syncd\",\"user\":{%s}}]}",
			     api_port, ca, user) > 0);
	write_file(name, json);
	free(json);
}

/* The cluster each test starts from: what the source should see, and what it must not. */
static void reset_server(void)
{
	ctl_post("/token", "{\"token\":\"token-1\"}");
	write_file("token", "token-1\n");
	ctl_post("/split", "{\"size\":0}");
	ctl_post("/page-cap", "{\"size\":0}");
	ctl_post("/fail-continue", "{\"after\":-1}");
	ctl_post("/replace/services",
		 "[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"clusterIP\":\"10.96.0.10\"}},"
		 "{\"metadata\":{\"namespace\":\"default\",\"name\":\"db\"},\"spec\":{\"clusterIP\":\"10.96.0.11\"}},"
		 "{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"dns\"},\"spec\":{\"clusterIP\":\"10.96.0."
		 "53\"}},"
		 "{\"metadata\":{\"namespace\":\"default\",\"name\":\"headless\",\"labels\":"
		 "{\"service.kubernetes.io/headless\":\"\"}},\"spec\":{\"clusterIP\":\"None\"}},"
		 "{\"metadata\":{\"namespace\":\"default\",\"name\":\"other-proxy\",\"labels\":"
		 "{\"service.kubernetes.io/"
		 "service-proxy-name\":\"someone-else\"}},\"spec\":{\"clusterIP\":\"10.96.0.12\"}}]");
	ctl_post("/replace/endpointslices",
		 "[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-abc\",\"labels\":"
		 "{\"kubernetes.io/service-name\":\"web\"}},\"addressType\":\"IPv4\",\"endpoints\":[]},"
		 "{\"metadata\":{\"namespace\":\"default\",\"name\":\"headless-abc\",\"labels\":"
		 "{\"kubernetes.io/service-name\":\"headless\",\"service.kubernetes.io/headless\":\"\"}},"
		 "\"addressType\":\"IPv4\",\"endpoints\":[]}]");
	ctl_post("/replace/namespaces",
		 "[{\"metadata\":{\"name\":\"default\"}},{\"metadata\":{\"name\":\"kube-system\"}}]");
	ctl_post("/replace/nodes",
		 "[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"topology.kubernetes.io/zone\":\"z1\"}}},"
		 "{\"metadata\":{\"name\":\"n2\"}}]");
	ctl_post("/requests/clear", "{}");
}

struct names {
	char buf[1024];
};

static int add_name(const struct k8s_object *obj, void *ctx)
{
	struct names *n = ctx;
	size_t len = strlen(n->buf);

	snprintf(n->buf + len, sizeof(n->buf) - len, "%s%s%s%s", len ? " " : "", obj->ns, *obj->ns ? "/" : "",
		 obj->name);
	return 0;
}

static int compare_words(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "ns/name ns/name …", sorted: what the store holds of kind. */
static void store_names(struct store *s, enum k8s_kind kind, char *out, size_t len)
{
	struct names n = { "" };
	char *words[64] = { 0 }, *save = NULL, *w;
	size_t count = 0;

	store_lock(s);
	store_foreach(s, kind, add_name, &n);
	store_unlock(s);
	for (w = strtok_r(n.buf, " ", &save); w && count < 64; w = strtok_r(NULL, " ", &save))
		words[count++] = w;
	qsort(words, count, sizeof(words[0]), compare_words);
	out[0] = '\0';
	for (size_t i = 0; i < count; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", words[i]);
}

static void wait_names(struct store *s, enum k8s_kind kind, const char *expected)
{
	char got[1024];
	long deadline = now_ms() + WAIT_MS;

	do {
		store_names(s, kind, got, sizeof(got));
		if (strcmp(got, expected) == 0)
			return;
		usleep(20000);
	} while (now_ms() < deadline);
	fail_msg("%s: expected \"%s\", have \"%s\"", k8s_kind_name(kind), expected, got);
}

static void wait_complete(struct store *s)
{
	long deadline = now_ms() + WAIT_MS;

	while (!store_complete(s)) {
		if (now_ms() > deadline)
			fail_msg("the initial lists did not complete");
		usleep(20000);
	}
}

static const char initial_services[] = "default/db default/web kube-system/dns";

static void assert_initial_state(struct store *s)
{
	wait_complete(s);
	wait_names(s, K8S_SERVICE, initial_services);
	wait_names(s, K8S_ENDPOINTSLICE, "default/web-abc");
	wait_names(s, K8S_NAMESPACE, "default kube-system");
	wait_names(s, K8S_NODE, "n1");
}

/* Until each kind has `want` open watches (one per kind: the source is watching; none: nobody is). */
static void wait_watches(int want)
{
	long deadline = now_ms() + WAIT_MS;

	for (;;) {
		char *answer = ctl("/watches", NULL);
		cJSON *counts = cJSON_Parse(answer);
		int matching = 0;
		const cJSON *c;

		cJSON_ArrayForEach(c, counts) {
			matching += c->valueint == want;
		}
		cJSON_Delete(counts);
		if (matching == 4) {
			free(answer);
			return;
		}
		if (now_ms() > deadline)
			fail_msg("expected %d open watch(es) of each kind, the server has %s", want, answer);
		free(answer);
		usleep(20000);
	}
}

static void wait_watching(void)
{
	wait_watches(1);
}

/* The source under test; a failed test leaves it running for per_test_teardown() to stop. */
static struct {
	struct store *store;
	struct kube_source *ks;
} src;

static void start_with(const struct kube_source_config *cfg)
{
	src.store = store_new();
	assert_non_null(src.store);
	assert_int_equal(kube_source_start(cfg, src.store, &src.ks, NULL), 0);
}

static void start_source(const char *kubeconfig, unsigned int watch_timeout_s, unsigned int grace_s)
{
	char path[PATH_MAX];
	struct kube_source_config cfg = {
		.source = { .kubeconfig = path, .node_name = "n1" },
		.watch_timeout_s = watch_timeout_s,
		.dead_watch_grace_s = grace_s,
	};

	snprintf(path, sizeof(path), "%s/%s", dir, kubeconfig);
	start_with(&cfg);
}

static void stop_source(void)
{
	kube_source_stop(src.ks);
	store_free(src.store);
	src.ks = NULL;
	src.store = NULL;
}

static void wait_restarts(unsigned long want)
{
	long deadline = now_ms() + WAIT_MS;

	while (kube_source_restarts(src.ks) < want) {
		if (now_ms() > deadline)
			fail_msg("%lu watch restarts, expected %lu", kube_source_restarts(src.ks), want);
		usleep(20000);
	}
}

/* Requests the server saw: how many match path (substring), watch or not, with this status (0 = any). */
static int count_requests(const char *path, bool watch, long status)
{
	char *answer = ctl("/requests", NULL);
	cJSON *requests = cJSON_Parse(answer);
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, requests) {
		const cJSON *query = cJSON_GetObjectItem(r, "query");
		const cJSON *w = cJSON_GetObjectItem(query, "watch");
		const cJSON *st = cJSON_GetObjectItem(r, "status");

		if (!strstr(cJSON_GetObjectItem(r, "path")->valuestring, path))
			continue;
		if ((cJSON_IsString(w) && strcmp(w->valuestring, "true") == 0) != watch)
			continue;
		if (status && (!cJSON_IsNumber(st) || st->valueint != status))
			continue;
		n++;
	}
	cJSON_Delete(requests);
	free(answer);
	return n;
}

/* The resourceVersion of the newest watch request for path. */
static long last_watch_rv(const char *path)
{
	char *answer = ctl("/requests", NULL);
	cJSON *requests = cJSON_Parse(answer);
	const cJSON *r;
	long rv = -1;

	cJSON_ArrayForEach(r, requests) {
		const cJSON *query = cJSON_GetObjectItem(r, "query");
		const cJSON *v = cJSON_GetObjectItem(query, "resourceVersion");

		if (strstr(cJSON_GetObjectItem(r, "path")->valuestring, path) && cJSON_GetObjectItem(query, "watch") &&
		    cJSON_IsString(v))
			rv = atol(v->valuestring);
	}
	cJSON_Delete(requests);
	free(answer);
	return rv;
}

static long server_rv(void)
{
	char *answer = ctl("/state", NULL);
	cJSON *state = cJSON_Parse(answer);
	long rv = cJSON_GetObjectItem(state, "resourceVersion")->valueint;

	cJSON_Delete(state);
	free(answer);
	return rv;
}

/* Tests -------------------------------------------------------------------- */

static int per_test_setup(void **state)
{
	(void)state;
	/* the previous test's watches are closed: every open watch is the new source's */
	wait_watches(0);
	reset_server();
	write_kubeconfig("token.json", "ca.pem", "\"tokenFile\":\"token\"");
	return 0;
}

static int per_test_teardown(void **state)
{
	(void)state;
	if (src.store)
		stop_source();
	return 0;
}

static void test_paginated_list_and_selectors(void **state)
{
	const struct k8s_slice *slice;

	(void)state;
	ctl_post("/page-cap", "{\"size\":1}");
	start_source("token.json", 0, 0);
	/* headless and other proxies' services are filtered by the server, by our selector */
	assert_initial_state(src.store);
	/* three services at one per page: three list requests */
	assert_int_equal(count_requests("/api/v1/services", false, 200), 3);
	assert_int_equal(count_requests("/api/v1/nodes", false, 200), 1);
	/* list items are decoded as the kind listed: the slice knows its Service */
	store_lock(src.store);
	slice = (const struct k8s_slice *)store_get(src.store, K8S_ENDPOINTSLICE, "default", "web-abc");
	assert_non_null(slice);
	assert_int_equal(slice->obj.kind, K8S_ENDPOINTSLICE);
	assert_string_equal(slice->service, "web");
	store_unlock(src.store);
	stop_source();
}

static void test_watch_events(void **state)
{
	const struct k8s_service *svc;
	char addr[SOCKLB_ADDR_STRLEN];

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"default\",\"name\":\"new\"},"
				    "\"spec\":{\"clusterIP\":\"10.96.0.20\"}}");
	ctl_post("/delete/services", "{\"namespace\":\"default\",\"name\":\"db\"}");
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},"
				    "\"spec\":{\"clusterIP\":\"10.96.0.99\"}}");
	ctl_post("/delete/endpointslices", "{\"namespace\":\"default\",\"name\":\"web-abc\"}");
	wait_names(src.store, K8S_SERVICE, "default/new default/web kube-system/dns");
	wait_names(src.store, K8S_ENDPOINTSLICE, "");
	store_lock(src.store);
	svc = (const struct k8s_service *)store_get(src.store, K8S_SERVICE, "default", "web");
	assert_int_equal(svc->n_addrs, 1);
	socklb_addr_format(k8s_service_addrs(svc)[0].addr, addr, sizeof(addr));
	assert_string_equal(addr, "10.96.0.99");
	store_unlock(src.store);
	/* an object moving to a label we do not watch is not our business; one we never saw stays out */
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"default\",\"name\":\"headless2\",\"labels\":"
				    "{\"service.kubernetes.io/headless\":\"\"}}}");
	ctl_post("/apply/nodes", "{\"metadata\":{\"name\":\"n3\"}}");
	ctl_post("/apply/nodes",
		 "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"topology.kubernetes.io/zone\":\"z2\"}}}");
	wait_names(src.store, K8S_NODE, "n1");
	wait_names(src.store, K8S_SERVICE, "default/new default/web kube-system/dns");
	assert_int_equal(kube_source_restarts(src.ks), 0);
	stop_source();
}

static void test_events_split_across_chunks(void **state)
{
	char big[20000];

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	/* 7-byte chunks, cut across events and inside them */
	ctl_post("/split", "{\"size\":7}");
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"a\",\"name\":\"s1\"}}");
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"a\",\"name\":\"s2\"}}");
	/* one event larger than any TLS record */
	snprintf(big, sizeof(big),
		 "{\"metadata\":{\"namespace\":\"a\",\"name\":\"big\",\"annotations\":{\"x\":\"%0*d\"}}}",
		 (int)sizeof(big) - 100, 0);
	ctl_post("/split", "{\"size\":1000}");
	ctl_post("/apply/services", big);
	wait_names(src.store, K8S_SERVICE, "a/big a/s1 a/s2 default/db default/web kube-system/dns");
	assert_int_equal(kube_source_restarts(src.ks), 0);
	stop_source();
}

static void test_bookmark_moves_the_resource_version(void **state)
{
	long rv;

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	/* changes we do not watch move the resourceVersion; a bookmark tells us */
	ctl_post("/apply/namespaces", "{\"metadata\":{\"name\":\"n-a\"}}");
	ctl_post("/apply/namespaces", "{\"metadata\":{\"name\":\"n-b\"}}");
	wait_names(src.store, K8S_NAMESPACE, "default kube-system n-a n-b");
	rv = server_rv();
	ctl_post("/bookmark", "{\"resource\":\"services\"}");
	usleep(300000);
	ctl_post("/drop", "{\"resource\":\"services\"}");
	for (long deadline = now_ms() + WAIT_MS; last_watch_rv("/api/v1/services") != rv && now_ms() < deadline;)
		usleep(20000);
	assert_int_equal(last_watch_rv("/api/v1/services"), rv);
	/* a re-watch, not a relist */
	assert_int_equal(count_requests("/api/v1/services", false, 0), 1);
	assert_int_equal(kube_source_restarts(src.ks), 1);
	stop_source();
}

/* Changes the source cannot see as events (compacted away): only a relist finds them. */
static void silent_changes(void)
{
	ctl_post("/delete/services?silent=1", "{\"namespace\":\"default\",\"name\":\"db\"}");
	ctl_post("/apply/services?silent=1", "{\"metadata\":{\"namespace\":\"default\",\"name\":\"missed\"}}");
}

static void test_in_stream_410_relists(void **state)
{

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	silent_changes();
	ctl_post("/watch-error", "{\"resource\":\"services\",\"code\":410,\"message\":\"too old resource version\"}");
	wait_names(src.store, K8S_SERVICE, "default/missed default/web kube-system/dns");
	assert_int_equal(count_requests("/api/v1/services", false, 200), 2);
	stop_source();
}

static void test_http_410_relists(void **state)
{

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	silent_changes();
	ctl_post("/compact", "{\"mode\":\"http\"}");
	ctl_post("/drop", "{\"resource\":\"services\"}");
	wait_names(src.store, K8S_SERVICE, "default/missed default/web kube-system/dns");
	assert_int_equal(count_requests("/api/v1/services", true, 410), 1);
	assert_int_equal(count_requests("/api/v1/services", false, 200), 2);
	/* the ERROR-event form of the same compaction */
	ctl_post("/delete/services?silent=1", "{\"namespace\":\"default\",\"name\":\"missed\"}");
	ctl_post("/compact", "{\"mode\":\"stream\"}");
	ctl_post("/drop", "{\"resource\":\"services\"}");
	wait_names(src.store, K8S_SERVICE, "default/web kube-system/dns");
	stop_source();
}

static void test_continue_token_expired(void **state)
{

	(void)state;
	ctl_post("/page-cap", "{\"size\":1}");
	/* the second continue request of the first list fails */
	ctl_post("/fail-continue", "{\"after\":1}");
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	assert_int_equal(count_requests("/api/v1", false, 410), 1);
	stop_source();
}

static void test_dropped_connections(void **state)
{

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	/* half an event, then the connection dies: the half is dropped, we re-watch */
	ctl_post("/drop", "{\"partial\":true}");
	wait_restarts(4);
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"x\",\"name\":\"after-drop\"}}");
	wait_names(src.store, K8S_SERVICE, "default/db default/web kube-system/dns x/after-drop");
	wait_watching();
	ctl_post("/drop", "{}");
	wait_restarts(8);
	ctl_post("/delete/services", "{\"namespace\":\"x\",\"name\":\"after-drop\"}");
	wait_names(src.store, K8S_SERVICE, initial_services);
	/* the dropped watches resumed from where they were: no relist */
	assert_int_equal(count_requests("/api/v1/services", false, 0), 1);
	stop_source();
}

/* Until the server has refused (401) at least one watch request. */
static void wait_until_refused(void)
{
	long deadline = now_ms() + WAIT_MS;

	while (count_requests("/api", true, 401) < 1) {
		if (now_ms() > deadline)
			fail_msg("no watch request was refused after the token changed");
		usleep(20000);
	}
}

static void test_token_rotation(void **state)
{

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	/* the projected token rotates: the server accepts only the new one, open watches go on */
	write_file("token", "token-2\n");
	ctl_post("/token", "{\"token\":\"token-2\"}");
	ctl_post("/drop", "{}");
	/*
	 * The server cuts its watches asynchronously: an event applied now could
	 * still go out on an old connection. Wait for a refused re-watch (the
	 * first watcher refused re-reads the token for all of them), then for
	 * every kind to watch again, then apply.
	 */
	wait_until_refused();
	wait_watching();
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"x\",\"name\":\"after-rotation\"}}");
	wait_names(src.store, K8S_SERVICE, "default/db default/web kube-system/dns x/after-rotation");
	/* a refused watch is watched again, never relisted */
	assert_int_equal(count_requests("/api/v1/services", false, 0), 1);
	stop_source();
}

static void test_stalled_watch_is_reconnected(void **state)
{
	long start;

	(void)state;
	/* watches of 4 s: silent for 4 + 1 s is dead */
	start_source("token.json", 4, 1);
	assert_initial_state(src.store);
	wait_watching();
	ctl_post("/stall", "{\"resource\":\"services\"}");
	start = now_ms();
	ctl_post("/apply/services", "{\"metadata\":{\"namespace\":\"x\",\"name\":\"after-stall\"}}");
	/*
	 * Without the dead-watch timer the stalled watch would never end. Its
	 * 4 + 1 s count from the watch's last byte, which came before the stall:
	 * the time is reported, not asserted (timings never decide a test).
	 */
	wait_names(src.store, K8S_SERVICE, "default/db default/web kube-system/dns x/after-stall");
	print_message("# the stalled services watch was replaced %ld ms after the stall\n", now_ms() - start);
	stop_source();
}

static void test_stop_is_prompt(void **state)
{
	long start;

	(void)state;
	start_source("token.json", 0, 0);
	assert_initial_state(src.store);
	wait_watching();
	start = now_ms();
	stop_source();
	assert_true(now_ms() - start < 1500);

	/* also while backing off from a server that refuses us */
	ctl_post("/token", "{\"token\":\"nobody-has-this\"}");
	start_source("token.json", 0, 0);
	usleep(1500000);
	assert_false(store_complete(src.store));
	start = now_ms();
	stop_source();
	assert_true(now_ms() - start < 1500);
}

static void test_client_certificate(void **state)
{

	(void)state;
	write_kubeconfig("cert.json", "ca.pem", "\"client-certificate\":\"client.pem\",\"client-key\":\"client.key\"");
	start_source("cert.json", 0, 0);
	assert_initial_state(src.store);
	stop_source();
}

static void test_untrusted_server_is_refused(void **state)
{

	(void)state;
	/* the server's certificate is not signed by the CA we trust: no request may reach it */
	write_kubeconfig("other-ca.json", "other-ca.pem", "\"tokenFile\":\"token\"");
	start_source("other-ca.json", 0, 0);
	usleep(1500000);
	assert_false(store_complete(src.store));
	assert_int_equal(count_requests("/", false, 0) + count_requests("/", true, 0), 0);
	stop_source();
}

static void test_in_cluster(void **state)
{
	char sa_dir[PATH_MAX], cmd[PATH_MAX * 3], port[16];
	struct kube_source_config cfg = { .source = { .node_name = "n1" }, .sa_dir = sa_dir };

	(void)state;
	/* a pod's view: the service account's token and CA, the API server from the environment */
	snprintf(sa_dir, sizeof(sa_dir), "%s/serviceaccount", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/ca.pem %s/ca.crt && cp %s/token %s/token", sa_dir, dir, sa_dir,
		 dir, sa_dir);
	assert_int_equal(system(cmd), 0);
	snprintf(port, sizeof(port), "%d", api_port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	start_with(&cfg);
	assert_initial_state(src.store);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paginated_list_and_selectors, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_watch_events, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_events_split_across_chunks, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_bookmark_moves_the_resource_version, per_test_setup,
						per_test_teardown),
		cmocka_unit_test_setup_teardown(test_in_stream_410_relists, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_http_410_relists, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_continue_token_expired, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_dropped_connections, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_token_rotation, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_stalled_watch_is_reconnected, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_prompt, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_client_certificate, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, per_test_setup, per_test_teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_server_is_refused, per_test_setup, per_test_teardown),
	};

	return cmocka_run_group_tests_name("kube_source", tests, setup, teardown);
}
