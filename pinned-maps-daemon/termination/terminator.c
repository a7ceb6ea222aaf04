// SPDX-License-Identifier: Apache-2.0
#include "terminator.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_slice.h"
#include "hashmap.h"
#include "log.h"
#include "terminate.h"
#include "translate.h"

/* Sockets destroyed through one frontend since the daemon started. */
struct destroyed_count {
	struct socklb_frontend fe;
	unsigned long long destroyed;
};

/* This pass's targets; fes[i] is the frontend targets[i] left, for the per-frontend counter. */
struct batch {
	struct socklb_term_target *targets;
	struct socklb_frontend *fes;
	struct socklb_term_result *results;
	size_t n;
	size_t cap;
};

struct terminator {
	struct terminator_config cfg;
	struct socklb_term *term;
	struct batch batch;
	struct held_list held;
	pthread_mutex_t lock; /* counters: the HTTP thread renders them */
	struct hashmap *counters; /* frontend key → struct destroyed_count */
};

/* ---- decisions ------------------------------------------------------------------ */

size_t backends_removed(const struct socklb_endpoint *applied, size_t n_applied, const struct socklb_endpoint *desired,
			size_t n_desired, struct socklb_endpoint *out)
{
	size_t i = 0, j = 0, n = 0;
	int c;

	while (i < n_applied) {
		c = j < n_desired ? endpoint_cmp(&applied[i], &desired[j]) : -1;
		if (c < 0) {
			out[n++] = applied[i++];
		} else if (c > 0) {
			j++;
		} else {
			i++;
			j++;
		}
	}
	return n;
}

enum held_verdict held_decide(enum held_state state, long long deadline_ms, long long now_ms)
{
	switch (state) {
	case HELD_BACK:
		return HELD_FORGET;
	case HELD_LEFT:
		return HELD_TERMINATE;
	case HELD_NOT_CHECKED:
	case HELD_SERVING_TERMINATING:
	default:
		return now_ms >= deadline_ms ? HELD_TERMINATE : HELD_WAIT;
	}
}

static bool slice_has_port(const struct parsed_slice *ps, const struct socklb_frontend *fe, __u16 port)
{
	for (size_t i = 0; i < ps->n_ports; i++) {
		if (ps->ports[i].port == port && ps->ports[i].proto == fe->proto)
			return true;
	}
	return false;
}

bool slice_has_serving_terminating(const cJSON *slice, const struct socklb_frontend *fe,
				   const struct socklb_endpoint *be)
{
	struct parsed_slice ps;
	bool found = false;

	/* Malformed: translation already said so, and does not use the slice either. */
	if (endpoint_slice_parse(slice, NULL, &ps, NULL))
		return false;
	if (slice_has_port(&ps, fe, be->port)) {
		for (size_t i = 0; i < ps.n_endpoints && !found; i++) {
			const struct slice_endpoint *se = &ps.endpoints[i];

			found = se->serving && se->terminating && memcmp(se->addr, be->addr, sizeof(be->addr)) == 0;
		}
	}
	endpoint_slice_release(&ps);
	return found;
}

enum socklb_term_method terminator_method(bool automatic, enum socklb_term_method named,
					  const struct socklb_term_probe *p, char *why, size_t len)
{
	char parts[SOCKLB_TERM_WHY_LEN];
	enum socklb_term_method m;

	if (!automatic) {
		snprintf(why, len, "--termination-method %s", socklb_term_method_name(named));
		return named;
	}
	m = socklb_term_method_choose(p, parts, sizeof(parts));
	snprintf(why, len, "%s%s", m == SOCKLB_TERM_OFF ? "no method works here: " : "", parts);
	return m;
}

/* ---- life cycle ------------------------------------------------------------------- */

int terminator_new(const char *root, const struct terminator_config *cfg, struct terminator **out, char *why,
		   size_t len)
{
	struct terminator *t;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	pthread_mutex_init(&t->lock, NULL);
	t->counters = hashmap_new();
	if (!t->counters) {
		err = -ENOMEM;
		snprintf(why, len, "%s", strerror(ENOMEM));
		goto fail;
	}
	err = socklb_term_open(root, cfg->method, &t->term, why, len);
	if (err)
		goto fail;
	*out = t;
	return 0;
fail:
	terminator_free(t);
	return err;
}

void terminator_free(struct terminator *t)
{
	if (!t)
		return;
	socklb_term_close(t->term);
	hashmap_free(t->counters, free);
	pthread_mutex_destroy(&t->lock);
	held_list_release(&t->held);
	free(t->batch.targets);
	free(t->batch.fes);
	free(t->batch.results);
	free(t);
}

bool terminator_wants(const struct terminator *t, __u8 proto)
{
	return proto == SOCKLB_PROTO_UDP || (proto == SOCKLB_PROTO_TCP && t->cfg.tcp);
}

/* ---- the batch --------------------------------------------------------------------- */

static int batch_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 16;
	struct socklb_term_target *targets = realloc(b->targets, cap * sizeof(*targets));
	struct socklb_frontend *fes;
	struct socklb_term_result *results;

	if (!targets)
		return -ENOMEM;
	b->targets = targets;
	fes = realloc(b->fes, cap * sizeof(*fes));
	if (!fes)
		return -ENOMEM;
	b->fes = fes;
	results = realloc(b->results, cap * sizeof(*results));
	if (!results)
		return -ENOMEM;
	b->results = results;
	b->cap = cap;
	return 0;
}

int terminator_add(struct terminator *t, __u32 svc_id, const struct socklb_frontend *fe,
		   const struct socklb_endpoint *be)
{
	struct batch *b = &t->batch;
	struct socklb_term_target *target;

	if (b->n == b->cap && batch_grow(b))
		return -ENOMEM;
	target = &b->targets[b->n];
	memset(target, 0, sizeof(*target));
	target->svc_id = svc_id;
	memcpy(target->backend, be->addr, sizeof(target->backend));
	target->backend_port = be->port;
	target->protocols = fe->proto == SOCKLB_PROTO_TCP ? SOCKLB_TERM_TCP : SOCKLB_TERM_UDP;
	b->fes[b->n++] = *fe;
	return 0;
}

bool terminator_pending(const struct terminator *t)
{
	return t->batch.n > 0;
}

static void count_destroyed(struct terminator *t, const struct socklb_frontend *fe, __u32 destroyed)
{
	unsigned char key[FRONTEND_KEY_LEN];
	struct destroyed_count *c;

	frontend_key(fe, key);
	pthread_mutex_lock(&t->lock);
	c = hashmap_get(t->counters, key, sizeof(key));
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (c && hashmap_put(t->counters, key, sizeof(key), c, NULL)) {
			free(c);
			c = NULL;
		}
		if (c)
			c->fe = *fe;
	}
	if (c)
		c->destroyed += destroyed;
	pthread_mutex_unlock(&t->lock);
	if (!c)
		pr_warn("out of memory counting destroyed sockets");
}

/* The library's line names service ids; this names the frontends behind them, for -v. */
static void log_targets(const struct batch *b)
{
	char fe[FRONTEND_STRLEN], be[SOCKLB_ENDPOINT_STRLEN];

	if (!socklb_log_enabled(SOCKLB_LOG_DEBUG))
		return;
	for (size_t i = 0; i < b->n; i++) {
		frontend_format(&b->fes[i], fe, sizeof(fe));
		socklb_endpoint_format(b->targets[i].backend, b->targets[i].backend_port, be, sizeof(be));
		pr_debug("socket termination: frontend %s (service %u), backend %s left: %u sockets destroyed, %u "
			 "failed",
			 fe, b->targets[i].svc_id, be, b->results[i].destroyed, b->results[i].failed);
	}
}

int terminator_run(struct terminator *t)
{
	char why[SOCKLB_TERM_WHY_LEN] = "";
	struct batch *b = &t->batch;
	int err;

	if (!b->n)
		return 0;
	/* The library logs the batch's line; counts are valid for what it did even when it fails part-way. */
	err = socklb_term_run(t->term, b->targets, b->n, b->results, why, sizeof(why));
	for (size_t i = 0; i < b->n; i++) {
		if (b->results[i].destroyed)
			count_destroyed(t, &b->fes[i], b->results[i].destroyed);
	}
	log_targets(b);
	if (err)
		pr_warn("socket termination for %zu removed backends did not complete: %s; the sockets it missed keep "
			"their backend until the application reconnects",
			b->n, *why ? why : strerror(-err));
	b->n = 0;
	return err;
}

/* ---- the held backends ----------------------------------------------------------- */

static void held_log(const struct held_backend *hb, const char *what)
{
	char fe[FRONTEND_STRLEN], be[SOCKLB_ENDPOINT_STRLEN];

	if (!socklb_log_enabled(SOCKLB_LOG_DEBUG))
		return;
	frontend_format(&hb->fe, fe, sizeof(fe));
	socklb_endpoint_format(hb->be.addr, hb->be.port, be, sizeof(be));
	pr_debug("socket termination: backend %s of frontend %s %s", be, fe, what);
}

int held_add(struct held_list *h, __u32 svc_id, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
	     long long deadline_ms)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct held_backend *items = realloc(h->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		h->items = items;
		h->cap = cap;
	}
	h->items[h->n++] = (struct held_backend){
		.fe = *fe,
		.be = *be,
		.svc_id = svc_id,
		.deadline_ms = deadline_ms,
		.review = true,
		.state = HELD_NOT_CHECKED,
	};
	return 0;
}

void held_list_release(struct held_list *h)
{
	free(h->items);
	memset(h, 0, sizeof(*h));
}

int held_release(struct held_list *h, const struct socklb_frontend *fe, held_terminate_cb terminate, void *ctx)
{
	size_t k = 0;
	int err = 0, ret;

	for (size_t i = 0; i < h->n; i++) {
		const struct held_backend *hb = &h->items[i];

		if (frontend_cmp(&hb->fe, fe) == 0) {
			ret = terminate(hb, ctx);
			if (!ret) {
				held_log(hb, "is held, and its frontend is deleted: terminating now");
				continue;
			}
			err = err ? err : ret;
		}
		h->items[k++] = *hb;
	}
	h->n = k;
	return err;
}

int held_settle(struct held_list *h, long long now_ms, held_terminate_cb terminate, void *ctx)
{
	size_t k = 0;
	int err = 0, ret;

	for (size_t i = 0; i < h->n; i++) {
		struct held_backend *hb = &h->items[i];
		enum held_verdict v = held_decide(hb->state, hb->deadline_ms, now_ms);

		if (v == HELD_FORGET) {
			held_log(hb, "is a backend again: its sockets stay");
			continue;
		}
		if (v == HELD_TERMINATE) {
			ret = terminate(hb, ctx);
			if (!ret) {
				held_log(hb, hb->state == HELD_LEFT
						     ? "stopped serving or left: terminating"
						     : "reached the end of its grace period: terminating");
				continue;
			}
			/* Not queued (out of memory): it stays held, and is due again at the next settle. */
			err = err ? err : ret;
		} else if (hb->review && hb->state == HELD_SERVING_TERMINATING) {
			held_log(hb, "is serving and terminating: its sockets stay until it stops or its grace ends");
		}
		hb->review = false;
		hb->state = HELD_NOT_CHECKED;
		h->items[k++] = *hb;
	}
	h->n = k;
	return err;
}

long long held_next_deadline_ms(const struct held_list *h, long long now_ms)
{
	long long first = -1;

	for (size_t i = 0; i < h->n; i++) {
		long long left = h->items[i].deadline_ms - now_ms;

		if (left < 0)
			left = 0;
		if (first < 0 || left < first)
			first = left;
	}
	return first;
}

static int terminate_held(const struct held_backend *hb, void *ctx)
{
	return terminator_add(ctx, hb->svc_id, &hb->fe, &hb->be);
}

int terminator_hold(struct terminator *t, __u32 svc_id, const struct socklb_frontend *fe,
		    const struct socklb_endpoint *be, long long now_ms)
{
	if (!t->cfg.grace_ms)
		return terminator_add(t, svc_id, fe, be);
	return held_add(&t->held, svc_id, fe, be, now_ms + t->cfg.grace_ms);
}

int terminator_release(struct terminator *t, const struct socklb_frontend *fe)
{
	return held_release(&t->held, fe, terminate_held, t);
}

struct held_list *terminator_held(struct terminator *t)
{
	return &t->held;
}

int terminator_settle(struct terminator *t, long long now_ms)
{
	return held_settle(&t->held, now_ms, terminate_held, t);
}

long long terminator_next_deadline_ms(const struct terminator *t, long long now_ms)
{
	return held_next_deadline_ms(&t->held, now_ms);
}

/* ---- metrics ------------------------------------------------------------------------ */

static int render_count(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct destroyed_count *c = value;
	char name[SOCKLB_ENDPOINT_STRLEN];

	(void)key;
	(void)key_len;
	socklb_endpoint_format(c->fe.addr, c->fe.port, name, sizeof(name));
	fprintf(ctx, "socklb_service_sockets_destroyed_total{frontend=\"%s\",protocol=\"%s\"} %llu\n", name,
		socklb_proto_name(c->fe.proto), c->destroyed);
	return 0;
}

void terminator_metrics_collect(FILE *out, void *ctx)
{
	struct terminator *t = ctx;

	fputs("# HELP socklb_service_sockets_destroyed_total Client sockets destroyed because their backend left the "
	      "frontend they connected through.\n"
	      "# TYPE socklb_service_sockets_destroyed_total counter\n",
	      out);
	pthread_mutex_lock(&t->lock);
	hashmap_foreach(t->counters, render_count, out);
	pthread_mutex_unlock(&t->lock);
}
