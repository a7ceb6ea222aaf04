/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `socklb-syncd trace`'s filters and output: which events to show, and each
 * as a line of text or one JSON object. Pure functions over decoded events,
 * for the unit tests.
 */
#ifndef SOCKLB_TRACE_FILTER_H
#define SOCKLB_TRACE_FILTER_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "socklb.h"

/* The pod an event came from, as far as it could be told (pod_resolver.h). */
struct trace_pod {
	char attachment[NAME_MAX + 1]; /* "<container id>/<ifname>"; "" when unknown */
	char uid[40]; /* the pod's UID from kubelet's cgroup names; "" when not found */
	char cgroup[PATH_MAX]; /* the pod cgroup's path under the cgroup2 mount; "" when unknown */
};

struct trace_filter {
	const char *pod; /* pod UID, "<container id>/<ifname>", or a container id prefix; NULL: any */
	bool has_vip;
	__be32 vip[4]; /* IPv4 as ::ffff:a.b.c.d */
	__u16 port; /* host order; 0: any */
	unsigned int verdicts; /* bit per SOCKLB_VERDICT_*; 0: any */
};

/*
 * Parse the filters (each may be NULL): service "10.96.0.10", "10.96.0.10:80",
 * "fd00::10" or "[fd00::10]:80"; verdicts a comma-separated list of
 * socklb_verdict_name()s. -EINVAL with a message in err.
 */
int trace_filter_parse(struct trace_filter *f, const char *pod, const char *service, const char *verdicts, char *err,
		       size_t err_len);
/* pod may be NULL (not resolved): then only a filter without --pod matches. */
bool trace_filter_match(const struct trace_filter *f, const struct socklb_trace_event *ev, const struct trace_pod *pod);

/* One event as printed: wall_ns its time on CLOCK_REALTIME. pod NULL when unresolved. */
struct trace_line {
	const struct socklb_trace_event *ev;
	__u64 wall_ns;
	const struct trace_pod *pod;
};

void trace_print_header(FILE *out);
void trace_print_text(FILE *out, const struct trace_line *l);
/* One JSON object and a newline. -ENOMEM. */
int trace_print_json(FILE *out, const struct trace_line *l);

#endif /* SOCKLB_TRACE_FILTER_H */
