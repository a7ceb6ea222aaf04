/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `socklb-syncd status`: what this node's kernel and this process's
 * privileges allow, what is pinned under the bpffs root, and what socklb
 * does about each item; one row per item (probes in bpf/lib/probe.h). Changes
 * nothing. The running daemon logs the one-line summary at start.
 */
#ifndef SOCKLB_STATUS_H
#define SOCKLB_STATUS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdio.h>

enum status_level {
	STATUS_OK,
	STATUS_LIMITED, /* socklb runs, without what the row says */
	STATUS_BLOCKING, /* socklb cannot run here */
	STATUS_UNKNOWN, /* a must-have this process cannot probe (it lacks privileges): socklb may or may not run */
};

struct status_row {
	char item[32];
	enum status_level level;
	int err; /* the probe's negative errno; 0 when it found the facility */
	bool unsure; /* refused EPERM, and this process lacks a capability for it: the kernel may have it */
	char result[128];
	char consequence[256];
	char detail[256]; /* the probe's own words when it failed: what it tried, what the kernel said */
};

#define STATUS_MAX_ROWS 48

struct status {
	struct status_row rows[STATUS_MAX_ROWS];
	size_t n;
	char summary[512]; /* "cgroup v2 hybrid, hooks ok, ..." */
	/* for the probes */
	__u64 caps; /* effective capabilities */
	bool caps_known;
};

/* Run every probe, reading (never changing) what is pinned under bpffs_root. */
void status_probe(struct status *st, const char *bpffs_root);

/* A new row (NULL when the table is full, which a fixed set of probes never fills). */
struct status_row *status_add(struct status *st, const char *item, enum status_level level, int err,
			      const char *detail);
/* Append one item of the one-line summary. */
void status_summary_add(struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether socklb can run here, and the sentence that says so (or what blocks it). */
bool status_verdict(const struct status *st, char *buf, size_t len);

/* ITEM RESULT CONSEQUENCE, one line per row, then the verdict; verbose adds each failed probe's detail. */
void status_print_text(const struct status *st, bool verbose, FILE *out);
/* {"canRun":..,"verdict":..,"summary":..,"items":[{"item","status","result","consequence"[,"errno","detail"]}]} */
int status_print_json(const struct status *st, FILE *out);

/* The command: probe, print, and return the exit status (0: socklb can run here, 1: it cannot, or cannot tell). */
int status_main(const char *bpffs_root, bool json, bool verbose, FILE *out);

/* The running daemon's start: the summary as one log line, and an error line when socklb cannot run here. */
void status_log(const char *bpffs_root);

#endif /* SOCKLB_STATUS_H */
