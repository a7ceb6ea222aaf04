/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's side of socket termination (README: "Socket termination"). The
 * syncer reports every backend a map write took out of a frontend, with the
 * frontend's service id read before the write; the terminator gathers them
 * into one batch per sync pass for the library, holds back the backends of
 * serving+terminating endpoints for the grace period, and counts the sockets
 * destroyed per frontend for /metrics.
 *
 * Connected UDP sockets always; TCP ones only when configured (TCP sees a
 * RST or a timeout on its own). Not thread-safe except the metrics collector:
 * the syncer's thread drives it.
 */
#ifndef SOCKLB_TERMINATOR_H
#define SOCKLB_TERMINATOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lbmap.h"
#include "terminate.h"

struct terminator_config {
	enum socklb_term_method method; /* chosen by the caller: probed, or --termination-method */
	bool tcp; /* TCP frontends too (--terminate-tcp) */
	unsigned int grace_ms; /* --terminate-grace: 0 terminates at once */
};

/* ---- decisions (pure, for the unit tests) ---------------------------------- */

/*
 * The backends in applied that are not in desired: those a write of desired
 * takes out of the frontend. Both sorted by endpoint_cmp and unique; out has
 * room for n_applied. Returns how many were written to out, in order.
 */
size_t backends_removed(const struct socklb_endpoint *applied, size_t n_applied, const struct socklb_endpoint *desired,
			size_t n_desired, struct socklb_endpoint *out);

/* What the cluster says now about a held backend (one that left its frontend while terminating). */
enum held_state {
	HELD_NOT_CHECKED, /* its Service did not change this pass: only its deadline counts */
	HELD_SERVING_TERMINATING, /* still in a slice of its Service, serving and terminating */
	HELD_LEFT, /* gone from the slices, no longer serving, or its Service is gone */
	HELD_BACK, /* a backend of the frontend again: its sockets are good */
};

enum held_verdict {
	HELD_WAIT,
	HELD_TERMINATE,
	HELD_FORGET,
};

enum held_verdict held_decide(enum held_state state, long long deadline_ms, long long now_ms);

/*
 * The slice lists be among its endpoints (addresses[0]) as serving and
 * terminating, with a port of be's number and fe's protocol. The slice must be
 * one of the frontend's Service; a malformed one lists nothing.
 */
bool slice_has_serving_terminating(const cJSON *slice, const struct socklb_frontend *fe,
				   const struct socklb_endpoint *be);

/* ---- backends held for their grace period ------------------------------------- */

/* A backend that left its frontend while serving and terminating. */
struct held_backend {
	struct socklb_frontend fe;
	struct socklb_endpoint be;
	__u32 svc_id;
	long long deadline_ms; /* CLOCK_MONOTONIC: the end of its grace period */
	bool review; /* look at the cluster again this pass (new, or its frontend was touched) */
	enum held_state state; /* set by the caller for those under review, before settling */
};

struct held_list {
	struct held_backend *items;
	size_t n;
	size_t cap;
};

/* Queue a held backend's sockets for termination: 0, or an error that keeps it held. */
typedef int (*held_terminate_cb)(const struct held_backend *hb, void *ctx);

/* Hold a backend until deadline_ms, marked for review. */
int held_add(struct held_list *h, __u32 svc_id, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
	     long long deadline_ms);
void held_list_release(struct held_list *h);
/* The frontend is deleted: terminate every backend held for it, whatever its grace. */
int held_release(struct held_list *h, const struct socklb_frontend *fe, held_terminate_cb terminate, void *ctx);
/*
 * held_decide for every held backend: terminate (through the callback), keep
 * waiting, or forget. Those kept lose their review mark and state.
 */
int held_settle(struct held_list *h, long long now_ms, held_terminate_cb terminate, void *ctx);
/* Milliseconds until the first grace period ends (0: due); -1 when nothing is held. */
long long held_next_deadline_ms(const struct held_list *h, long long now_ms);

/*
 * The method the daemon uses, and why, for its log line: with auto, the
 * cheapest one the probe p allows (SOCKLB_TERM_OFF when none: why lists what
 * each part lacks); else the one --termination-method names (p unused).
 */
enum socklb_term_method terminator_method(bool automatic, enum socklb_term_method named,
					  const struct socklb_term_probe *p, char *why, size_t len);

/* ---- the terminator ------------------------------------------------------------ */

struct terminator;

/* Load the library's programs for cfg->method (the maps under root must exist); why says what failed. */
int terminator_new(const char *root, const struct terminator_config *cfg, struct terminator **out, char *why,
		   size_t len);
void terminator_free(struct terminator *t);

/* Backends leaving a frontend of this protocol have sockets to terminate. */
bool terminator_wants(const struct terminator *t, __u8 proto);

/* The backend left the frontend whose service id is svc_id: terminate its sockets in this pass's batch. */
int terminator_add(struct terminator *t, __u32 svc_id, const struct socklb_frontend *fe,
		   const struct socklb_endpoint *be);
/* Likewise without a grace period; with one, the backend is held (marked for review) instead. */
int terminator_hold(struct terminator *t, __u32 svc_id, const struct socklb_frontend *fe,
		    const struct socklb_endpoint *be, long long now_ms);
/* The frontend was deleted: its held backends join the batch before its id can go to another frontend. */
int terminator_release(struct terminator *t, const struct socklb_frontend *fe);

/* The held backends, for the caller to mark for review and fill in their state. */
struct held_list *terminator_held(struct terminator *t);
/* Apply held_decide to every held backend: terminate (batch), keep waiting, or forget. */
int terminator_settle(struct terminator *t, long long now_ms);
/* Milliseconds until the first held backend's grace expires (0: due); -1 when none is held. */
long long terminator_next_deadline_ms(const struct terminator *t, long long now_ms);

/* Whether the batch has targets. */
bool terminator_pending(const struct terminator *t);
/*
 * One library run for the batch (after the map writes that removed its
 * backends), then an empty batch. Counts the sockets destroyed per frontend.
 */
int terminator_run(struct terminator *t);

/* A metrics_collect_cb: socklb_service_sockets_destroyed_total{frontend,protocol}. Thread-safe. */
void terminator_metrics_collect(FILE *out, void *ctx);

#endif /* SOCKLB_TERMINATOR_H */
