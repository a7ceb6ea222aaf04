/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-frontend counters from the datapath (connects translated, connects
 * refused for want of a backend) as Prometheus counters. Reads the pinned
 * maps through its own read-only handle, so a scrape never waits for the
 * syncer nor holds it up.
 */
#ifndef SOCKLB_SERVICE_METRICS_H
#define SOCKLB_SERVICE_METRICS_H

#include <stdio.h>

struct service_metrics;

struct service_metrics *service_metrics_new(const char *bpffs_root);
void service_metrics_free(struct service_metrics *sm);
/* A metrics_collect_cb: renders socklb_service_translated_total and socklb_service_no_backend_total. */
void service_metrics_collect(FILE *out, void *ctx);

#endif /* SOCKLB_SERVICE_METRICS_H */
