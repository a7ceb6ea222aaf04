// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLLECTORS 8
#define MAX_BUCKETS 96
#define LAST_ERROR_LEN 512

struct histogram {
	const char *name;
	const char *help;
	double bounds[MAX_BUCKETS];
	size_t n_bounds;
	unsigned long long counts[MAX_BUCKETS]; /* per bucket, not cumulative */
	unsigned long long count;
	double sum;
};

struct collector {
	metrics_collect_cb cb;
	void *ctx;
};

struct metrics {
	pthread_mutex_t lock;
	struct histogram sync;
	struct histogram programming;
	size_t services;
	size_t backends;
	unsigned long long sync_errors;
	size_t invalid_services;
	size_t invalid_endpoint_slices;
	bool node_missing;
	double last_sync_time; /* Unix time of the last complete sync without a failed write; 0: none yet */
	size_t no_local_endpoints[2]; /* IPv4, IPv6 */
	char last_error[LAST_ERROR_LEN];
	double last_error_time;
	bool synced;
	size_t n_collectors;
	struct collector collectors[MAX_COLLECTORS];
};

/*
 * kube-proxy's buckets (pkg/proxy/metrics), so that dashboards and alerts
 * written for it read ours alike: a sync 1 ms doubling to 16.384 s;
 * programming latency 0, 0.25 s, 0.5 s, then every second to 59 s, every
 * 5 s to 115 s, every 30 s to 5 min.
 */
static void sync_bounds(struct histogram *h)
{
	for (int i = 0; i < 15; i++)
		h->bounds[h->n_bounds++] = 0.001 * (double)(1 << i);
}

static void programming_bounds(struct histogram *h)
{
	int i;

	h->bounds[h->n_bounds++] = 0;
	h->bounds[h->n_bounds++] = 0.25;
	h->bounds[h->n_bounds++] = 0.5;
	for (i = 1; i <= 59; i++)
		h->bounds[h->n_bounds++] = i;
	for (i = 60; i <= 115; i += 5)
		h->bounds[h->n_bounds++] = i;
	for (i = 120; i <= 300; i += 30)
		h->bounds[h->n_bounds++] = i;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->sync = (struct histogram){
		.name = "socklb_sync_proxy_rules_duration_seconds",
		.help = "Time one sync of the desired frontends into the pinned maps took (kubeproxy_sync_proxy_rules_"
			"duration_seconds).",
	};
	sync_bounds(&m->sync);
	m->programming = (struct histogram){
		.name = "socklb_network_programming_duration_seconds",
		.help = "Time from an EndpointSlice change (its last-change-trigger-time) to the maps being written "
			"(kubeproxy_network_programming_duration_seconds).",
	};
	programming_bounds(&m->programming);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void observe(struct histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void metrics_observe_sync(struct metrics *m, double seconds)
{
	pthread_mutex_lock(&m->lock);
	observe(&m->sync, seconds);
	pthread_mutex_unlock(&m->lock);
}

void metrics_observe_programming(struct metrics *m, double seconds)
{
	/* Clocks of the API server and this node differ a little: never report negative time. */
	if (seconds < 0)
		seconds = 0;
	pthread_mutex_lock(&m->lock);
	observe(&m->programming, seconds);
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_programmed(struct metrics *m, size_t services, size_t backends)
{
	pthread_mutex_lock(&m->lock);
	m->services = services;
	m->backends = backends;
	pthread_mutex_unlock(&m->lock);
}

void metrics_sync_error(struct metrics *m, const char *message)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&m->lock);
	m->sync_errors++;
	snprintf(m->last_error, sizeof(m->last_error), "%s", message);
	m->last_error_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_invalid_objects(struct metrics *m, size_t services, size_t endpoint_slices)
{
	pthread_mutex_lock(&m->lock);
	m->invalid_services = services;
	m->invalid_endpoint_slices = endpoint_slices;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_node_missing(struct metrics *m, bool missing)
{
	pthread_mutex_lock(&m->lock);
	m->node_missing = missing;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_last_sync(struct metrics *m, double unix_time)
{
	pthread_mutex_lock(&m->lock);
	m->last_sync_time = unix_time;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_no_local_endpoints(struct metrics *m, size_t ipv4, size_t ipv6)
{
	pthread_mutex_lock(&m->lock);
	m->no_local_endpoints[0] = ipv4;
	m->no_local_endpoints[1] = ipv6;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_synced(struct metrics *m)
{
	pthread_mutex_lock(&m->lock);
	m->synced = true;
	pthread_mutex_unlock(&m->lock);
}

bool metrics_synced(struct metrics *m)
{
	bool synced;

	pthread_mutex_lock(&m->lock);
	synced = m->synced;
	pthread_mutex_unlock(&m->lock);
	return synced;
}

int metrics_add_collector(struct metrics *m, metrics_collect_cb cb, void *ctx)
{
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (m->n_collectors == MAX_COLLECTORS)
		err = -ENOSPC;
	else
		m->collectors[m->n_collectors++] = (struct collector){ .cb = cb, .ctx = ctx };
	pthread_mutex_unlock(&m->lock);
	return err;
}

void metrics_escape_label(const char *value, char *buf, size_t len)
{
	size_t k = 0;

	for (; *value && k + 3 < len; value++) {
		if (*value == '\\' || *value == '"') {
			buf[k++] = '\\';
			buf[k++] = *value;
		} else if (*value == '\n') {
			buf[k++] = '\\';
			buf[k++] = 'n';
		} else {
			buf[k++] = *value;
		}
	}
	buf[k] = '\0';
}

static void render_histogram(FILE *out, const struct histogram *h)
{
	unsigned long long cumulative = 0;

	fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
	for (size_t i = 0; i < h->n_bounds; i++) {
		cumulative += h->counts[i];
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->bounds[i], cumulative);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name, h->count, h->name, h->sum,
		h->name, h->count);
}

static void render_own(FILE *out, const struct metrics *m)
{
	char escaped[2 * LAST_ERROR_LEN];

	render_histogram(out, &m->sync);
	render_histogram(out, &m->programming);
	fprintf(out,
		"# HELP socklb_services Frontends (VIP, port, protocol) in the pinned maps.\n"
		"# TYPE socklb_services gauge\nsocklb_services %zu\n"
		"# HELP socklb_backends Backends of all frontends in the pinned maps.\n"
		"# TYPE socklb_backends gauge\nsocklb_backends %zu\n"
		"# HELP socklb_sync_errors_total Map writes and source loads that failed, and objects rejected as "
		"invalid.\n"
		"# TYPE socklb_sync_errors_total counter\nsocklb_sync_errors_total %llu\n"
		"# HELP socklb_invalid_objects Objects rejected as invalid now: their Services keep their last good "
		"frontends.\n"
		"# TYPE socklb_invalid_objects gauge\n"
		"socklb_invalid_objects{kind=\"Service\"} %zu\nsocklb_invalid_objects{kind=\"EndpointSlice\"} %zu\n"
		"# HELP socklb_node_missing 1 when the Node named by --node-name is not in the input: no node "
		"ports, no zone hints.\n"
		"# TYPE socklb_node_missing gauge\nsocklb_node_missing %d\n",
		m->services, m->backends, m->sync_errors, m->invalid_services, m->invalid_endpoint_slices,
		m->node_missing ? 1 : 0);
	fprintf(out,
		"# HELP socklb_sync_proxy_rules_last_timestamp_seconds The last time a sync wrote every change to the "
		"maps (kubeproxy_sync_proxy_rules_last_timestamp_seconds).\n"
		"# TYPE socklb_sync_proxy_rules_last_timestamp_seconds gauge\n"
		"socklb_sync_proxy_rules_last_timestamp_seconds %.3f\n"
		"# HELP socklb_sync_proxy_rules_no_local_endpoints_total Frontends of Services with "
		"internalTrafficPolicy Local that have endpoints, none on this node (a gauge, as kube-proxy's).\n"
		"# TYPE socklb_sync_proxy_rules_no_local_endpoints_total gauge\n"
		"socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\",ip_family=\"IPv4\"} %zu\n"
		"socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\",ip_family=\"IPv6\"} "
		"%zu\n",
		m->last_sync_time, m->no_local_endpoints[0], m->no_local_endpoints[1]);
	metrics_escape_label(m->last_error, escaped, sizeof(escaped));
	fprintf(out,
		"# HELP socklb_last_error The last error (message label); value: its Unix time, 0 when none.\n"
		"# TYPE socklb_last_error gauge\nsocklb_last_error{message=\"%s\"} %.3f\n",
		escaped, m->last_error_time);
}

int metrics_render(struct metrics *m, char **text, size_t *len)
{
	struct collector collectors[MAX_COLLECTORS];
	size_t n_collectors;
	FILE *out = open_memstream(text, len);

	if (!out)
		return -errno;
	pthread_mutex_lock(&m->lock);
	render_own(out, m);
	n_collectors = m->n_collectors;
	memcpy(collectors, m->collectors, sizeof(collectors));
	pthread_mutex_unlock(&m->lock);
	/* Collectors may be slow (they read maps): run them without holding the lock. */
	for (size_t i = 0; i < n_collectors; i++)
		collectors[i].cb(out, collectors[i].ctx);
	if (fclose(out))
		return -ENOMEM;
	return 0;
}
