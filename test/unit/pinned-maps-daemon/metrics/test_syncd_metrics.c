// SPDX-License-Identifier: Apache-2.0
/* Metrics exposition and the tiny HTTP server behind /metrics and /healthz (loopback only). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "metrics.h"
#include "metrics_server.h"

static char *render(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void extra(FILE *out, void *ctx)
{
	fprintf(out, "# TYPE socklb_watch_restarts_total counter\nsocklb_watch_restarts_total %d\n", *(int *)ctx);
}

static void test_render(void **state)
{
	struct metrics *m = metrics_new();
	int restarts = 3;
	char *text;

	(void)state;
	metrics_observe_sync(m, 0.0004);
	metrics_observe_sync(m, 0.003);
	metrics_observe_sync(m, 100);
	metrics_observe_programming(m, -1);
	metrics_set_programmed(m, 7, 21);
	metrics_sync_error(m, "writing frontend 10.96.0.1:80/TCP: \"full\"\n");
	assert_int_equal(metrics_add_collector(m, extra, &restarts), 0);
	text = render(m);
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_duration_seconds histogram\n"));
	/* Cumulative buckets: 0.0004 is in le=0.001 and everything after. */
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_bucket{le=\"0.001\"} 1\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 1\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 2\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_bucket{le=\"16.384\"} 2\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_duration_seconds_count 3\n"));
	/* Negative latency (clock skew) counts as zero, in kube-proxy's le="0" bucket. */
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"0\"} 1\n"));
	assert_non_null(strstr(text, "socklb_services 7\n"));
	assert_non_null(strstr(text, "socklb_backends 21\n"));
	assert_non_null(strstr(text, "socklb_sync_errors_total 1\n"));
	assert_non_null(
		strstr(text, "socklb_last_error{message=\"writing frontend 10.96.0.1:80/TCP: \\\"full\\\"\\n\"} "));
	assert_non_null(strstr(text, "socklb_watch_restarts_total 3\n"));
	free(text);
	metrics_free(m);
}

/* The le values of a histogram family, in order, as one string "a,b,...,+Inf". */
static void bucket_bounds(const char *text, const char *family, char *out, size_t len)
{
	char prefix[128];
	const char *p = text;
	size_t n = 0;

	snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", family);
	out[0] = '\0';
	while ((p = strstr(p, prefix))) {
		const char *v = p + strlen(prefix), *end = strchr(v, '"');

		assert_non_null(end);
		n += (size_t)snprintf(out + n, len - n, "%s%.*s", n ? "," : "", (int)(end - v), v);
		assert_true(n < len);
		p = end;
	}
}

/* kube-proxy's buckets, exactly (pkg/proxy/metrics: ExponentialBuckets(0.001, 2, 15); MergeBuckets(...)). */
static void test_kube_proxy_buckets(void **state)
{
	struct metrics *m = metrics_new();
	char got[2048], want[2048];
	size_t n = 0;
	char *text;

	(void)state;
	text = render(m);
	bucket_bounds(text, "socklb_sync_proxy_rules_duration_seconds", got, sizeof(got));
	assert_string_equal(got, "0.001,0.002,0.004,0.008,0.016,0.032,0.064,0.128,0.256,0.512,1.024,2.048,4.096,8.192,"
				 "16.384,+Inf");
	bucket_bounds(text, "socklb_network_programming_duration_seconds", got, sizeof(got));
	n += (size_t)snprintf(want + n, sizeof(want) - n, "0,0.25,0.5");
	for (int i = 1; i <= 59; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, ",%d", i);
	for (int i = 60; i <= 115; i += 5)
		n += (size_t)snprintf(want + n, sizeof(want) - n, ",%d", i);
	for (int i = 120; i <= 300; i += 30)
		n += (size_t)snprintf(want + n, sizeof(want) - n, ",%d", i);
	snprintf(want + n, sizeof(want) - n, ",+Inf");
	assert_string_equal(got, want);
	free(text);

	/* A value on a bound is in that bucket (le: less or equal). */
	metrics_observe_programming(m, 0.25);
	metrics_observe_programming(m, 0.26);
	metrics_observe_programming(m, 301);
	text = render(m);
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"0\"} 0\n"));
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"0.25\"} 1\n"));
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"0.5\"} 2\n"));
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"300\"} 2\n"));
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "socklb_network_programming_duration_seconds_sum 301.51\n"));
	free(text);
	metrics_free(m);
}

/* The sync gauges: 0 until set, then what they were set to. */
static void test_sync_gauges(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	(void)state;
	text = render(m);
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_last_timestamp_seconds gauge\n"
				     "socklb_sync_proxy_rules_last_timestamp_seconds 0.000\n"));
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_no_local_endpoints_total gauge\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\","
				     "ip_family=\"IPv4\"} 0\n"));
	free(text);
	metrics_set_last_sync(m, 1714557600.5);
	metrics_set_no_local_endpoints(m, 2, 1);
	text = render(m);
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_last_timestamp_seconds 1714557600.500\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\","
				     "ip_family=\"IPv4\"} 2\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\","
				     "ip_family=\"IPv6\"} 1\n"));
	free(text);
	metrics_free(m);
}

/* Invalid objects and the missing Node: gauges that read 0 until set, and follow what they are set to. */
static void test_invalid_objects_and_node(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	(void)state;
	text = render(m);
	assert_non_null(strstr(text, "# TYPE socklb_invalid_objects gauge\n"));
	assert_non_null(strstr(text, "socklb_invalid_objects{kind=\"Service\"} 0\n"));
	assert_non_null(strstr(text, "socklb_invalid_objects{kind=\"EndpointSlice\"} 0\n"));
	assert_non_null(strstr(text, "# TYPE socklb_node_missing gauge\nsocklb_node_missing 0\n"));
	free(text);
	metrics_set_invalid_objects(m, 2, 3);
	metrics_set_node_missing(m, true);
	text = render(m);
	assert_non_null(strstr(text, "socklb_invalid_objects{kind=\"Service\"} 2\n"));
	assert_non_null(strstr(text, "socklb_invalid_objects{kind=\"EndpointSlice\"} 3\n"));
	assert_non_null(strstr(text, "socklb_node_missing 1\n"));
	free(text);
	metrics_set_invalid_objects(m, 0, 1);
	metrics_set_node_missing(m, false);
	text = render(m);
	assert_non_null(strstr(text, "socklb_invalid_objects{kind=\"Service\"} 0\n"));
	assert_non_null(strstr(text, "socklb_node_missing 0\n"));
	free(text);
	metrics_free(m);
}

static void test_addr_parse(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	assert_int_equal(metrics_addr_parse("127.0.0.1:9466", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9466);
	assert_int_equal(metrics_addr_parse("[::1]:9466", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(metrics_addr_parse(":9466", &ss, &len), 0);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(metrics_addr_parse("127.0.0.1", &ss, &len), -EINVAL);
	assert_int_equal(metrics_addr_parse("127.0.0.1:", &ss, &len), -EINVAL);
	assert_int_equal(metrics_addr_parse("127.0.0.1:65536", &ss, &len), -EINVAL);
	assert_int_equal(metrics_addr_parse("localhost:80", &ss, &len), -EINVAL);
	assert_int_equal(metrics_addr_parse("[::1:80", &ss, &len), -EINVAL);
}

/* One HTTP request over loopback; the response, or NULL when nothing listens. */
static char *http_get(int port, const char *request)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char *buf = calloc(1, 65536);
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		free(buf);
		return NULL;
	}
	assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
	while (len < 65535 && (n = recv(fd, buf + len, 65535 - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	return buf;
}

static void test_server(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_server *srv = NULL;
	char addr[32], *resp;
	int port = 0;

	(void)state;
	/* A free loopback port: try a few from a range unlikely to be in use. */
	for (int i = 0; i < 20 && !srv; i++) {
		port = 20000 + (getpid() * 7 + i * 131) % 20000;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		if (metrics_server_start(addr, m, &srv))
			srv = NULL;
	}
	assert_non_null(srv);

	resp = http_get(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_non_null(resp);
	assert_true(strncmp(resp, "HTTP/1.1 503 ", 13) == 0);
	free(resp);
	metrics_set_synced(m);
	resp = http_get(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(resp, "\r\n\r\nok\n"));
	free(resp);

	resp = http_get(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "socklb_services 0\n"));
	free(resp);

	resp = http_get(port, "GET /nope HTTP/1.1\r\n\r\n");
	assert_true(strncmp(resp, "HTTP/1.1 404 ", 13) == 0);
	free(resp);
	resp = http_get(port, "POST /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
	free(resp);
	resp = http_get(port, "garbage\r\n\r\n");
	assert_true(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
	free(resp);

	metrics_server_stop(srv);
	assert_null(http_get(port, "GET /healthz HTTP/1.1\r\n\r\n"));
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),	    cmocka_unit_test(test_kube_proxy_buckets),
		cmocka_unit_test(test_sync_gauges), cmocka_unit_test(test_invalid_objects_and_node),
		cmocka_unit_test(test_addr_parse),  cmocka_unit_test(test_server),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
