/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeps the pinned maps equal to the desired state with as few writes as
 * possible. It adopts what is pinned when it starts, writes only frontends
 * whose backends or affinity differ, deletes nothing until every kind has been
 * listed (README.md invariant 2), and publishes the opted-in namespaces.
 * A failed write (a full map) is logged, counted and retried; the rest of
 * the sync goes on. With a terminator, the backends a pass takes out of
 * frontends have their client sockets terminated after the pass's writes.
 * A pinned frontend no valid Service claims is kept while a Service with
 * invalid objects may own it (desired_state_possible_owner()).
 */
#ifndef SOCKLB_SYNCER_H
#define SOCKLB_SYNCER_H

#include <stdbool.h>
#include <stddef.h>

#include "desired_state.h"
#include "lbmap.h"
#include "metrics.h"
#include "store.h"
#include "translate.h"

struct syncer;

struct sync_result {
	size_t upserts;
	size_t deletes;
	size_t errors; /* writes that failed this pass */
	size_t retranslated; /* services translated again */
	bool complete; /* the store had every kind listed: deletes were allowed */
	size_t invalid; /* objects the translation rejects now (Services, EndpointSlices) */
	size_t kept; /* pinned frontends not deleted because a Service with invalid objects may own them */
	double seconds; /* the sync itself: desired state and map writes */
	double terminate_seconds; /* socket termination after the writes, not part of seconds */
};

/* cfg's strings, the store, the maps and metrics (may be NULL) must outlive the syncer. */
struct syncer *syncer_new(struct store *s, struct socklb_maps *maps, const struct translate_config *cfg,
			  struct metrics *metrics);
void syncer_free(struct syncer *sy);

/* Read the pinned frontends and namespaces: the state to diff against. */
int syncer_adopt(struct syncer *sy);
/* One pass: bring the maps up to date with the store. 0, or a negative errno when it could not run at all. */
int syncer_sync(struct syncer *sy, struct sync_result *res);
/*
 * Socket termination (README: "Socket termination") for the backends passes take
 * out of frontends, with t's settings; NULL (the default) turns it off. t
 * must outlive the syncer.
 */
struct terminator;
void syncer_set_terminator(struct syncer *sy, struct terminator *t);
/* Milliseconds until a held backend's grace period ends (0: now), -1 when none is held. */
long long syncer_next_termination_ms(const struct syncer *sy);
/* Terminate the sockets of the held backends whose grace period ended. */
void syncer_terminate_due(struct syncer *sy);

/*
 * The changes the store reports to t (change_tracker.h): each pass takes
 * them, and observes the trigger times it wrote. NULL (the default): no
 * programming latency. t must outlive the syncer.
 */
struct change_tracker;
void syncer_set_change_tracker(struct syncer *sy, struct change_tracker *t);

/* Failed writes are waiting for a retry. */
bool syncer_pending_retries(const struct syncer *sy);
/* A pass ran with the store complete and no write failed since. */
bool syncer_converged(const struct syncer *sy);
/* Every object the translation rejects now, with its Service; stops at a non-zero return. */
int syncer_invalid_foreach(const struct syncer *sy, invalid_visit_cb cb, void *ctx);

#endif /* SOCKLB_SYNCER_H */
