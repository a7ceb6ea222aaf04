/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service and EndpointSlice changes counted as kube-proxy counts them
 * (pkg/proxy: ServiceChangeTracker, EndpointsChangeTracker), for its SLI
 * metrics under the socklb_ prefix:
 *   - *_changes_total: every event a source delivers (an identical
 *     re-delivery, as after a relist, included); EndpointSlices only with a
 *     kubernetes.io/service-name label and an IPv4 or IPv6 address type.
 *   - endpoint_changes_pending: EndpointSlice events that changed something
 *     since the last sync took the changes; service_changes_pending: the
 *     Services that changed since then.
 *   - the trigger times behind socklb_network_programming_duration_seconds:
 *     per changed EndpointSlice, its endpoints.kubernetes.io/last-change-
 *     trigger-time, if later than the daemon's start (earlier ones are not
 *     this daemon's latency); a deleted slice drops its Service's pending
 *     times (a deletion's annotation dates from its last update).
 *   - last_queued: when the last change that needs a sync arrived.
 * Fed by the store (store_observer_cb), taken by the syncer; thread-safe.
 */
#ifndef SOCKLB_CHANGE_TRACKER_H
#define SOCKLB_CHANGE_TRACKER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "store.h"

struct change_tracker;

/* start: the daemon's start, Unix time; trigger times up to it are ignored. */
struct change_tracker *change_tracker_new(double start);
void change_tracker_free(struct change_tracker *ct);

/* A store_observer_cb (ctx: the tracker). */
void change_tracker_observe(enum k8s_kind kind, const cJSON *old, const cJSON *cur, bool changed, void *ctx);

/*
 * A sync takes the changes: the trigger times noted since the last take
 * (*times malloc'ed, NULL when *n is 0), and the pending counts go to 0.
 * -ENOMEM.
 */
int change_tracker_take(struct change_tracker *ct, double **times, size_t *n);

struct change_counts {
	unsigned long long endpoint_changes_total;
	unsigned long long service_changes_total;
	size_t endpoint_changes_pending;
	size_t service_changes_pending;
	double last_queued; /* Unix time; 0: no change yet */
};

void change_tracker_counts(struct change_tracker *ct, struct change_counts *c);

/* A metrics_collect_cb: the socklb_sync_proxy_rules_*_changes_* and _last_queued_timestamp_seconds families. */
void change_tracker_collect(FILE *out, void *ctx);

#endif /* SOCKLB_CHANGE_TRACKER_H */
