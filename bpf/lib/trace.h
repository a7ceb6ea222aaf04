/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tracing the datapath (socklb.h: struct socklb_trace_ctl and struct
 * socklb_trace_event): turn the programs' events on for a while, read them
 * from the ring buffer, turn them off. One tracer per bpffs root at a time
 * (the ring buffer has one reader): a lock on <root>/trace says who.
 * Functions return 0 (or a count) or a negative errno.
 */
#ifndef SOCKLB_TRACE_H
#define SOCKLB_TRACE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "socklb.h"

/* 0 to go on, non-zero to stop socklb_trace_poll() and have it return that. */
typedef int (*socklb_trace_cb)(const struct socklb_trace_event *ev, void *ctx);

struct socklb_trace;

/*
 * Open the trace maps pinned under root and become its tracer. Nothing is
 * emitted before socklb_trace_keepalive(). -ENOENT when the maps are not
 * pinned there (no datapath loaded, or one built before tracing existed),
 * -EBUSY when another tracer holds root.
 */
int socklb_trace_open(const char *root, socklb_trace_cb cb, void *ctx, struct socklb_trace **out);
/* Have the programs emit until ttl_ms from now. Thread-safe. */
void socklb_trace_keepalive(struct socklb_trace *t, unsigned int ttl_ms);
/* Wait up to timeout_ms for events and hand each to the callback: how many, or what it returned. */
int socklb_trace_poll(struct socklb_trace *t, int timeout_ms);
/* Events the programs dropped (ring buffer full) since the maps were created. Thread-safe. */
__u64 socklb_trace_lost(struct socklb_trace *t);
/* Turn the events off, release the lock. */
void socklb_trace_close(struct socklb_trace *t);

/*
 * One ring buffer record as this build's event: a record of an older
 * program (shorter: the fields appended since are zero) or of a newer one
 * (longer: its start). false for one too short to be an event at all.
 */
bool socklb_trace_event_decode(const void *data, size_t size, struct socklb_trace_event *ev);

/* The control word as it is now, without becoming the tracer: -ENOENT as for socklb_trace_open. */
int socklb_trace_ctl_read(const char *root, struct socklb_trace_ctl *ctl);

/* CLOCK_MONOTONIC in nanoseconds: the clock of until_ns and of the events' time_ns. */
__u64 socklb_trace_now_ns(void);

/* "translated", "refused-no-endpoints", "affinity-hit", "sticky-udp", "reverse-translated"; NULL if unknown. */
const char *socklb_verdict_name(__u8 verdict);
/* The verdict with that name; -EINVAL if none. */
int socklb_verdict_parse(const char *name);
/* "connect", "sendmsg", "recvmsg", "getpeername"; "?" if unknown. */
const char *socklb_trace_hook_name(__u8 hook);

#endif /* SOCKLB_TRACE_H */
