/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's Prometheus metrics: kube-proxy's where they mean the same
 * thing, with their semantics and buckets, under the socklb_ prefix instead
 * of kubeproxy_ (both may run on one node). Thread-safe: the syncer records,
 * the HTTP thread renders.
 */
#ifndef SOCKLB_METRICS_H
#define SOCKLB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One sync pass took this long (socklb_sync_proxy_rules_duration_seconds). */
void metrics_observe_sync(struct metrics *m, double seconds);
/* An endpoint change reached the maps this long after it happened (socklb_network_programming_duration_seconds). */
void metrics_observe_programming(struct metrics *m, double seconds);
/* What the maps hold now: frontends and their backends. */
void metrics_set_programmed(struct metrics *m, size_t services, size_t backends);
/* Count one error and remember it as the last one. */
void metrics_sync_error(struct metrics *m, const char *message);
/* Objects the translation rejects now (socklb_invalid_objects{kind}). */
void metrics_set_invalid_objects(struct metrics *m, size_t services, size_t endpoint_slices);
/* The daemon's Node is not in the input (socklb_node_missing). */
void metrics_set_node_missing(struct metrics *m, bool missing);
/* A complete sync wrote every change at this Unix time (socklb_sync_proxy_rules_last_timestamp_seconds). */
void metrics_set_last_sync(struct metrics *m, double unix_time);
/* Frontends with internalTrafficPolicy Local, endpoints, and none local (socklb_sync_proxy_rules_no_local_endpoints_total). */
void metrics_set_no_local_endpoints(struct metrics *m, size_t ipv4, size_t ipv6);
/* The first complete sync is done: /healthz turns 200. */
void metrics_set_synced(struct metrics *m);
bool metrics_synced(struct metrics *m);

/* Extra families rendered by others (per-service counters, watch restarts); called at every scrape. */
typedef void (*metrics_collect_cb)(FILE *out, void *ctx);
int metrics_add_collector(struct metrics *m, metrics_collect_cb cb, void *ctx);

/* The whole exposition (text format 0.0.4); *text is malloc'ed. */
int metrics_render(struct metrics *m, char **text, size_t *len);

/* Escape a label value (backslash, quote, newline) into buf. */
void metrics_escape_label(const char *value, char *buf, size_t len);

#endif /* SOCKLB_METRICS_H */
