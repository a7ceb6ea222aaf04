// SPDX-License-Identifier: Apache-2.0
#include "change_tracker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intern.h"
#include "k8s_endpoint_slice.h"
#include "name_table.h"

/* The trigger times of one Service's changed slices. */
struct times {
	size_t n;
	size_t cap;
	double *t;
};

/* Both tables hold references to their keys' interned strings. */
struct change_tracker {
	pthread_mutex_t lock;
	double start;
	struct change_counts counts;
	struct name_table services_pending; /* namespace/name of the Services changed */
	struct name_table trigger_times; /* namespace/Service name → struct times */
};

struct change_tracker *change_tracker_new(double start)
{
	struct change_tracker *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	pthread_mutex_init(&ct->lock, NULL);
	ct->start = start;
	return ct;
}

/* An entry gives up its times and its references. */
static void forget(struct name_entry *e)
{
	struct times *t = e->value;

	if (t) {
		free(t->t);
		free(t);
	}
	intern_put(e->ns);
	intern_put(e->name);
}

static void forget_all(struct name_table *t)
{
	for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e))
		forget(e);
	name_table_release(t);
}

void change_tracker_free(struct change_tracker *ct)
{
	if (!ct)
		return;
	forget_all(&ct->services_pending);
	forget_all(&ct->trigger_times);
	pthread_mutex_destroy(&ct->lock);
	free(ct);
}

/* The entry of ns/name, added with references to its strings when new; NULL when out of memory. */
static struct name_entry *entry(struct name_table *t, const char *ns, const char *name)
{
	struct name_entry *e = name_table_insert(t, ns, name);

	if (e && !e->mark) {
		e->mark = 1;
		intern_ref(ns);
		intern_ref(name);
	}
	return e;
}

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* kube-proxy reads the slices of its own address types only; the label names the Service. */
static bool counted(const struct k8s_slice *slice)
{
	return slice->family && slice->service && *slice->service;
}

static void note_trigger_time(struct change_tracker *ct, const struct k8s_slice *slice)
{
	struct name_entry *e;
	struct times *t;
	double *grown;

	if (!slice->has_trigger_time || slice->trigger_time <= ct->start)
		return;
	/* Out of memory costs one observation. */
	e = entry(&ct->trigger_times, slice->obj.ns, slice->service);
	if (!e)
		return;
	t = e->value;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return;
		e->value = t;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 2;

		grown = realloc(t->t, cap * sizeof(*grown));
		if (!grown)
			return;
		t->t = grown;
		t->cap = cap;
	}
	t->t[t->n++] = slice->trigger_time;
}

static void observe_slice(struct change_tracker *ct, const struct k8s_slice *old, const struct k8s_slice *cur,
			  bool changed)
{
	const struct k8s_slice *slice = cur ? cur : old;
	struct name_entry *e, gone;

	if (!counted(slice))
		return;
	ct->counts.endpoint_changes_total++;
	if (!changed)
		return;
	ct->counts.endpoint_changes_pending++;
	if (cur) {
		note_trigger_time(ct, cur);
	} else {
		e = name_table_find(&ct->trigger_times, old->obj.ns, old->service);
		if (e) {
			gone = *e;
			name_table_remove(&ct->trigger_times, e);
			forget(&gone);
		}
	}
}

static void observe_service(struct change_tracker *ct, const struct k8s_object *old, const struct k8s_object *cur,
			    bool changed)
{
	const struct k8s_object *svc = cur ? cur : old;

	ct->counts.service_changes_total++;
	/* Out of memory costs one pending count. */
	if (changed)
		entry(&ct->services_pending, svc->ns, svc->name);
	ct->counts.service_changes_pending = ct->services_pending.count;
}

void change_tracker_observe(enum k8s_kind kind, const struct k8s_object *old, const struct k8s_object *cur,
			    bool changed, void *ctx)
{
	struct change_tracker *ct = ctx;

	pthread_mutex_lock(&ct->lock);
	if (kind == K8S_ENDPOINTSLICE)
		observe_slice(ct, (const struct k8s_slice *)old, (const struct k8s_slice *)cur, changed);
	else if (kind == K8S_SERVICE)
		observe_service(ct, old, cur, changed);
	/* Any change is work for the next sync (a Node's zone, a Namespace's opt-in too). */
	if (changed)
		ct->counts.last_queued = now_unix();
	pthread_mutex_unlock(&ct->lock);
}

int change_tracker_take(struct change_tracker *ct, double **times, size_t *n)
{
	struct name_table *tt = &ct->trigger_times;
	double *all = NULL;
	size_t total = 0;
	int err = 0;

	pthread_mutex_lock(&ct->lock);
	for (struct name_entry *e = name_table_first(tt); e; e = name_table_next(tt, e))
		total += e->value ? ((const struct times *)e->value)->n : 0;
	if (total) {
		all = malloc(total * sizeof(*all));
		total = 0;
		for (struct name_entry *e = name_table_first(tt); all && e; e = name_table_next(tt, e)) {
			const struct times *t = e->value;

			if (t) {
				memcpy(all + total, t->t, t->n * sizeof(*t->t));
				total += t->n;
			}
		}
		if (!all)
			err = -ENOMEM;
	}
	forget_all(tt);
	forget_all(&ct->services_pending);
	ct->counts.endpoint_changes_pending = 0;
	ct->counts.service_changes_pending = 0;
	pthread_mutex_unlock(&ct->lock);
	*times = all;
	*n = total;
	return err;
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
