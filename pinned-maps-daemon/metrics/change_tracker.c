// SPDX-License-Identifier: Apache-2.0
#include "change_tracker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hashmap.h"
#include "k8s_object.h"

#define KEY_LEN 512

/* The trigger times of one Service's changed slices. */
struct times {
	size_t n;
	size_t cap;
	double *t;
};

struct change_tracker {
	pthread_mutex_t lock;
	double start;
	struct change_counts counts;
	struct hashmap *services_pending; /* "namespace/name" → (void *)1 */
	struct hashmap *trigger_times; /* Service "namespace/name" → struct times */
};

static void times_free(void *value)
{
	struct times *t = value;

	free(t->t);
	free(t);
}

struct change_tracker *change_tracker_new(double start)
{
	struct change_tracker *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	pthread_mutex_init(&ct->lock, NULL);
	ct->start = start;
	ct->services_pending = hashmap_new();
	ct->trigger_times = hashmap_new();
	if (!ct->services_pending || !ct->trigger_times) {
		change_tracker_free(ct);
		return NULL;
	}
	return ct;
}

void change_tracker_free(struct change_tracker *ct)
{
	if (!ct)
		return;
	hashmap_free(ct->services_pending, NULL);
	hashmap_free(ct->trigger_times, times_free);
	pthread_mutex_destroy(&ct->lock);
	free(ct);
}

static int make_key(char *buf, const char *ns, const char *name)
{
	int n = snprintf(buf, KEY_LEN, "%s/%s", ns, name);

	return n < 0 || n >= KEY_LEN ? -1 : n;
}

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* kube-proxy reads the slices of its own address types only; the label names the Service. */
static const char *slice_service(const cJSON *slice)
{
	const char *type = k8s_string(slice, "addressType");
	const char *svc = k8s_label(slice, K8S_LABEL_SERVICE_NAME);

	if (!type || (strcmp(type, "IPv4") != 0 && strcmp(type, "IPv6") != 0) || !svc || !*svc)
		return NULL;
	return svc;
}

static void note_trigger_time(struct change_tracker *ct, const char *key, int len, const cJSON *slice)
{
	const char *when = k8s_annotation(slice, K8S_ANNOTATION_TRIGGER_TIME);
	struct times *t;
	double *grown, at;

	if (!when || k8s_time_parse(when, &at) || at <= ct->start)
		return;
	t = hashmap_get(ct->trigger_times, key, (size_t)len);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || hashmap_put(ct->trigger_times, key, (size_t)len, t, NULL)) {
			free(t);
			return; /* out of memory costs one observation */
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 2;

		grown = realloc(t->t, cap * sizeof(*grown));
		if (!grown)
			return;
		t->t = grown;
		t->cap = cap;
	}
	t->t[t->n++] = at;
}

static void observe_slice(struct change_tracker *ct, const cJSON *old, const cJSON *cur, bool changed)
{
	const cJSON *slice = cur ? cur : old;
	const char *svc = slice_service(slice);
	struct times *gone;
	char key[KEY_LEN];
	int len;

	if (!svc)
		return;
	ct->counts.endpoint_changes_total++;
	if (!changed)
		return;
	ct->counts.endpoint_changes_pending++;
	len = make_key(key, k8s_namespace(slice), svc);
	if (len < 0)
		return;
	if (cur) {
		note_trigger_time(ct, key, len, cur);
	} else {
		gone = hashmap_remove(ct->trigger_times, key, (size_t)len);
		if (gone)
			times_free(gone);
	}
}

static void observe_service(struct change_tracker *ct, const cJSON *old, const cJSON *cur, bool changed)
{
	const cJSON *svc = cur ? cur : old;
	char key[KEY_LEN];
	int len;

	ct->counts.service_changes_total++;
	len = make_key(key, k8s_namespace(svc), k8s_name(svc) ? k8s_name(svc) : "");
	if (changed && len >= 0 && !hashmap_get(ct->services_pending, key, (size_t)len))
		hashmap_put(ct->services_pending, key, (size_t)len, (void *)1, NULL);
	ct->counts.service_changes_pending = hashmap_count(ct->services_pending);
}

void change_tracker_observe(enum k8s_kind kind, const cJSON *old, const cJSON *cur, bool changed, void *ctx)
{
	struct change_tracker *ct = ctx;

	pthread_mutex_lock(&ct->lock);
	if (kind == K8S_ENDPOINTSLICE)
		observe_slice(ct, old, cur, changed);
	else if (kind == K8S_SERVICE)
		observe_service(ct, old, cur, changed);
	/* Any change is work for the next sync (a Node's zone, a Namespace's opt-in too). */
	if (changed)
		ct->counts.last_queued = now_unix();
	pthread_mutex_unlock(&ct->lock);
}

struct gather {
	double *times;
	size_t n;
	size_t cap;
	int err;
};

static int gather_times(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct times *t = value;
	struct gather *g = ctx;
	double *grown;

	(void)key;
	(void)key_len;
	if (g->n + t->n > g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;

		while (cap < g->n + t->n)
			cap *= 2;
		grown = realloc(g->times, cap * sizeof(*grown));
		if (!grown) {
			g->err = -ENOMEM;
			return g->err;
		}
		g->times = grown;
		g->cap = cap;
	}
	memcpy(g->times + g->n, t->t, t->n * sizeof(*t->t));
	g->n += t->n;
	return 0;
}

static bool every(void *value, void *ctx)
{
	(void)value;
	(void)ctx;
	return true;
}

int change_tracker_take(struct change_tracker *ct, double **times, size_t *n)
{
	struct gather g = { 0 };

	pthread_mutex_lock(&ct->lock);
	hashmap_foreach(ct->trigger_times, gather_times, &g);
	hashmap_remove_if(ct->trigger_times, every, NULL, times_free);
	hashmap_remove_if(ct->services_pending, every, NULL, NULL);
	ct->counts.endpoint_changes_pending = 0;
	ct->counts.service_changes_pending = 0;
	pthread_mutex_unlock(&ct->lock);
	if (g.err) {
		free(g.times);
		*times = NULL;
		*n = 0;
		return g.err;
	}
	*times = g.times;
	*n = g.n;
	return 0;
}

void change_tracker_counts(struct change_tracker *ct, struct change_counts *c)
{
	pthread_mutex_lock(&ct->lock);
	*c = ct->counts;
	pthread_mutex_unlock(&ct->lock);
}

void change_tracker_collect(FILE *out, void *ctx)
{
	struct change_counts c;

	change_tracker_counts(ctx, &c);
	fprintf(out,
		"# HELP socklb_sync_proxy_rules_endpoint_changes_pending EndpointSlice changes not synced yet "
		"(kubeproxy_sync_proxy_rules_endpoint_changes_pending).\n"
		"# TYPE socklb_sync_proxy_rules_endpoint_changes_pending gauge\n"
		"socklb_sync_proxy_rules_endpoint_changes_pending %zu\n"
		"# HELP socklb_sync_proxy_rules_endpoint_changes_total EndpointSlice events received "
		"(kubeproxy_sync_proxy_rules_endpoint_changes_total).\n"
		"# TYPE socklb_sync_proxy_rules_endpoint_changes_total counter\n"
		"socklb_sync_proxy_rules_endpoint_changes_total %llu\n"
		"# HELP socklb_sync_proxy_rules_service_changes_pending Services changed and not synced yet "
		"(kubeproxy_sync_proxy_rules_service_changes_pending).\n"
		"# TYPE socklb_sync_proxy_rules_service_changes_pending gauge\n"
		"socklb_sync_proxy_rules_service_changes_pending %zu\n"
		"# HELP socklb_sync_proxy_rules_service_changes_total Service events received "
		"(kubeproxy_sync_proxy_rules_service_changes_total).\n"
		"# TYPE socklb_sync_proxy_rules_service_changes_total counter\n"
		"socklb_sync_proxy_rules_service_changes_total %llu\n"
		"# HELP socklb_sync_proxy_rules_last_queued_timestamp_seconds The last time a change queued a sync "
		"(kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds).\n"
		"# TYPE socklb_sync_proxy_rules_last_queued_timestamp_seconds gauge\n"
		"socklb_sync_proxy_rules_last_queued_timestamp_seconds %.3f\n",
		c.endpoint_changes_pending, c.endpoint_changes_total, c.service_changes_pending,
		c.service_changes_total, c.last_queued);
}
