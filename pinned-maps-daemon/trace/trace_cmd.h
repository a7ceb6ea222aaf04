/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `socklb-syncd trace`: stream the datapath's translations (which backend
 * each connect, datagram and reply got, and why) with the pod each came
 * from, as text or JSON lines, until interrupted or --count events. Reads and
 * writes only the pinned trace maps: works with or without the daemon.
 * Tracing is on while it runs and off when it exits; killed, it stops by
 * itself within TRACE_TTL_MS.
 */
#ifndef SOCKLB_TRACE_CMD_H
#define SOCKLB_TRACE_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "trace_filter.h"

/* The programs' deadline: pushed this far ahead every TRACE_KEEPALIVE_MS. */
#define TRACE_TTL_MS 5000
#define TRACE_KEEPALIVE_MS 1000

struct trace_config {
	const char *bpffs_root;
	struct trace_filter filter;
	bool json;
	unsigned long count; /* stop after showing this many events; 0: at SIGINT or SIGTERM */
};

/* 0, or a negative errno (reported). */
int trace_run(const struct trace_config *cfg, FILE *out);

#endif /* SOCKLB_TRACE_CMD_H */
