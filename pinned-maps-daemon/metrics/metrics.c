// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLLECTORS 4
#define MAX_BUCKETS 20
#define LAST_ERROR_LEN 512

struct histogram {
	const char *name;
	const char *help;
	const double *bounds;
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
	char last_error[LAST_ERROR_LEN];
	double last_error_time;
	bool synced;
	size_t n_collectors;
	struct collector collectors[MAX_COLLECTORS];
};

/* A sync here takes tens of microseconds to a few seconds (a full sync of a big cluster). */
static const double sync_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,	   10 };
/* kube-proxy's buckets start at 0.25 s; ours start lower because the path is milliseconds. */
static const double programming_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					     1,	    2,	    5,	   10,	 30,	60,   120, 300 };

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->sync = (struct histogram){
		.name = "socklb_sync_proxy_rules_duration_seconds",
		.help = "Time one sync of the desired frontends into the pinned maps took.",
		.bounds = sync_bounds,
		.n_bounds = sizeof(sync_bounds) / sizeof(sync_bounds[0]),
	};
	m->programming = (struct histogram){
		.name = "socklb_network_programming_duration_seconds",
		.help = "Time from an EndpointSlice change (last-change-trigger-time) to the maps being written.",
		.bounds = programming_bounds,
		.n_bounds = sizeof(programming_bounds) / sizeof(programming_bounds[0]),
	};
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
