/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attach-failure record: how many opted-in pods the plugin could not
 * attach, and the last failure. The plugin writes it (one ADD at a time, under
 * a lock on its directory, replacing the file whole), socklb-syncd reads it
 * for its metrics (never half a write). A small text file on the node, not a
 * pinned object: the failure may be that there is no bpffs.
 *
 *   socklb-attach-failures v1
 *   ignored 3                     (failurePolicy Ignore: the pod started without socklb)
 *   failed 1                      (failurePolicy Fail: ADD returned the error)
 *   last 1733540000.123 default/web cannot load the datapath programs: ...
 *
 * Functions return 0 or a negative errno and fill the error context (err.h).
 */
#ifndef SOCKLB_ATTACH_FAILURES_H
#define SOCKLB_ATTACH_FAILURES_H

#include <stdbool.h>

#include "err.h"

/* On tmpfs: the counts start again at a reboot, as a daemon's counters do at a restart. */
#define SOCKLB_DEFAULT_ATTACH_FAILURES_FILE "/run/socklb/attach-failures"

#define SOCKLB_ATTACH_FAILURE_POD_LEN 320 /* "<namespace>/<name>" */
#define SOCKLB_ATTACH_FAILURE_ERROR_LEN 1024

struct socklb_attach_failures {
	unsigned long long ignored;
	unsigned long long failed;
	double last_time; /* Unix time of the last failure; 0: none */
	char last_pod[SOCKLB_ATTACH_FAILURE_POD_LEN];
	char last_error[SOCKLB_ATTACH_FAILURE_ERROR_LEN];
};

/*
 * Count one failure (ignored: under failurePolicy Ignore) of pod with this
 * error text, creating the file (mode 0600) and its directory (0700) when
 * missing. Unreadable content counts from zero again.
 */
int socklb_attach_failures_record(const char *path, bool ignored, const char *pod, const char *error,
				  struct socklb_err *err);

/* Read the record; -ENOENT when no failure was ever recorded. */
int socklb_attach_failures_read(const char *path, struct socklb_attach_failures *out, struct socklb_err *err);

#endif /* SOCKLB_ATTACH_FAILURES_H */
