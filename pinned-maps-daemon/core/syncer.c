// SPDX-License-Identifier: Apache-2.0
#include "syncer.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change_tracker.h"
#include "desired_state.h"
#include "hashmap.h"
#include "k8s_object.h"
#include "log.h"
#include "terminator.h"

/* What the maps hold for one frontend, as last read or written. */
struct applied_frontend {
	struct socklb_frontend fe;
	__u32 affinity_timeout;
	__u32 n_backends;
	struct socklb_endpoint backends[]; /* sorted by endpoint_cmp */
};

struct syncer {
	struct store *store;
	struct socklb_maps *maps;
	struct metrics *metrics;
	struct desired_state *desired;
	struct hashmap *applied; /* frontend key → struct applied_frontend */
	struct hashmap *namespaces; /* namespace names in the opt-in map → ns_state(value) */
	struct frontend_list retry; /* writes that failed; tried again on the next pass */
	struct frontend_list kept; /* pinned, claimed by no valid Service, kept for an invalid one that may own them */
	char *kept_said; /* the last log line about them: said again only when it changes */
	struct terminator *term; /* NULL: no socket termination */
	struct change_tracker *changes; /* NULL: no programming latency */
	size_t applied_backends;
	bool full_pass_done; /* deletes ran once with a complete store */
	bool converged;
	bool namespaces_dirty; /* the opt-in set must be computed and written again */
};

/* Log the first few failures of a pass one by one, the rest as a count: a full map can fail thousands. */
#define LOGGED_FAILURES_PER_PASS 10

static double now_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct syncer *syncer_new(struct store *s, struct socklb_maps *maps, const struct translate_config *cfg,
			  struct metrics *metrics)
{
	struct syncer *sy = calloc(1, sizeof(*sy));

	if (!sy)
		return NULL;
	sy->store = s;
	sy->maps = maps;
	sy->metrics = metrics;
	sy->desired = desired_state_new(cfg);
	sy->applied = hashmap_new();
	sy->namespaces = hashmap_new();
	sy->namespaces_dirty = true;
	if (!sy->desired || !sy->applied || !sy->namespaces) {
		syncer_free(sy);
		return NULL;
	}
	return sy;
}

void syncer_set_terminator(struct syncer *sy, struct terminator *t)
{
	sy->term = t;
}

void syncer_set_change_tracker(struct syncer *sy, struct change_tracker *t)
{
	sy->changes = t;
}

void syncer_free(struct syncer *sy)
{
	if (!sy)
		return;
	frontend_list_release(&sy->retry);
	frontend_list_release(&sy->kept);
	free(sy->kept_said);
	hashmap_free(sy->namespaces, NULL);
	hashmap_free(sy->applied, free);
	desired_state_free(sy->desired);
	free(sy);
}

static int endpoint_qsort_cmp(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

static int set_applied(struct syncer *sy, const struct socklb_frontend *fe, __u32 affinity,
		       const struct socklb_endpoint *be, __u32 n, bool sorted)
{
	struct applied_frontend *a = malloc(sizeof(*a) + n * sizeof(*be)), *old = NULL;
	unsigned char key[FRONTEND_KEY_LEN];
	int err;

	if (!a)
		return -ENOMEM;
	a->fe = *fe;
	a->affinity_timeout = affinity;
	a->n_backends = n;
	if (n)
		memcpy(a->backends, be, n * sizeof(*be));
	if (!sorted)
		qsort(a->backends, n, sizeof(*be), endpoint_qsort_cmp);
	frontend_key(fe, key);
	err = hashmap_put(sy->applied, key, sizeof(key), a, (void **)&old);
	if (err) {
		free(a);
		return err;
	}
	if (old)
		sy->applied_backends -= old->n_backends;
	sy->applied_backends += n;
	free(old);
	return 0;
}

static void drop_applied(struct syncer *sy, const struct socklb_frontend *fe)
{
	unsigned char key[FRONTEND_KEY_LEN];
	struct applied_frontend *a;

	frontend_key(fe, key);
	a = hashmap_remove(sy->applied, key, sizeof(key));
	if (a)
		sy->applied_backends -= a->n_backends;
	free(a);
}

static int adopt_service(const struct socklb_frontend *fe, const struct socklb_svc *svc,
			 const struct socklb_endpoint *be, __u32 n, void *ctx)
{
	/* Slot order is the datapath's business; diffs compare sorted sets. */
	return set_applied(ctx, fe, svc->affinity_timeout, be, n, false);
}

/* The namespace map's values as hashmap values (NULL would read as absent); any non-zero value is "in". */
static __u32 ns_values[] = { SOCKLB_NS_OPTED_OUT, SOCKLB_NS_OPTED_IN };

static void *ns_state(__u32 value)
{
	return &ns_values[value == SOCKLB_NS_OPTED_OUT ? 0 : 1];
}

static __u32 ns_value(const void *state)
{
	return *(const __u32 *)state;
}

static const char *ns_said(__u32 value)
{
	return value == SOCKLB_NS_OPTED_OUT ? "opted out" : "opted in";
}

static int adopt_namespace(const char *name, __u32 value, void *ctx)
{
	struct syncer *sy = ctx;

	return hashmap_put(sy->namespaces, name, strlen(name), ns_state(value), NULL);
}

int syncer_adopt(struct syncer *sy)
{
	int err = socklb_service_foreach(sy->maps, adopt_service, sy);

	if (err) {
		pr_err("reading the pinned services: %s", strerror(-err));
		return err;
	}
	err = socklb_namespace_foreach(sy->maps, adopt_namespace, sy);
	if (err) {
		pr_err("reading the pinned namespace opt-in set: %s", strerror(-err));
		return err;
	}
	pr_info("adopted %zu pinned frontends with %zu backends and %zu annotated namespaces",
		hashmap_count(sy->applied), sy->applied_backends, hashmap_count(sy->namespaces));
	if (sy->metrics)
		metrics_set_programmed(sy->metrics, hashmap_count(sy->applied), sy->applied_backends);
	return 0;
}

static bool same(const struct desired_frontend *d, const struct applied_frontend *a)
{
	return d->affinity_timeout == a->affinity_timeout && d->n_backends == a->n_backends &&
	       (d->n_backends == 0 || memcmp(d->backends, a->backends, d->n_backends * sizeof(*d->backends)) == 0);
}

struct pass {
	struct syncer *sy;
	struct sync_result *res;
	struct frontend_list failed;
	struct frontend_list kept;
	long long now_ms;
};

static void write_failed(struct pass *p, const struct socklb_frontend *fe, const char *what, const char *owner, int err)
{
	char name[FRONTEND_STRLEN], msg[256];

	frontend_format(fe, name, sizeof(name));
	snprintf(msg, sizeof(msg), "%s frontend %s%s%s: %s%s", what, name, owner ? " of Service " : "",
		 owner ? owner : "", strerror(-err), err == -ENOSPC ? " (a pinned map is full)" : "");
	if (p->res->errors < LOGGED_FAILURES_PER_PASS)
		pr_err("%s", msg);
	p->res->errors++;
	if (p->sy->metrics)
		metrics_sync_error(p->sy->metrics, msg);
	if (frontend_list_add(&p->failed, fe))
		pr_err("out of memory remembering %s for a retry", name);
}

static const struct applied_frontend *applied_get(const struct syncer *sy, const struct socklb_frontend *fe)
{
	unsigned char key[FRONTEND_KEY_LEN];

	frontend_key(fe, key);
	return hashmap_get(sy->applied, key, sizeof(key));
}

/*
 * The service id of a frontend, read before a write that takes backends out
 * of it: the sockets to terminate carry it. It stays the same across upserts;
 * a delete frees it for another frontend.
 */
static bool frontend_svc_id(const struct syncer *sy, const struct socklb_frontend *fe, __u32 *id)
{
	char name[FRONTEND_STRLEN];
	struct socklb_svc_key key;
	struct socklb_svc svc;

	socklb_svc_key_build(fe, &key);
	if (bpf_map_lookup_elem(sy->maps->services, &key, &svc) == 0) {
		*id = svc.id;
		return true;
	}
	frontend_format(fe, name, sizeof(name));
	pr_warn("frontend %s: cannot read its service id (%s): the sockets of the backends leaving it are not "
		"terminated",
		name, strerror(errno));
	return false;
}

static void terminate_failed(const struct socklb_frontend *fe, int err)
{
	char name[FRONTEND_STRLEN];

	frontend_format(fe, name, sizeof(name));
	pr_warn("frontend %s: cannot queue its removed backends for socket termination: %s", name, strerror(-err));
}

/*
 * Every backend of a deleted frontend leaves it (when its id is known), and
 * so do the ones held back for their grace period, before the id they carry
 * can go to another frontend.
 */
static void terminate_deleted(struct syncer *sy, const struct applied_frontend *a, bool id_known, __u32 svc_id)
{
	int err = terminator_release(sy->term, &a->fe);

	for (__u32 i = 0; id_known && !err && i < a->n_backends; i++)
		err = terminator_add(sy->term, svc_id, &a->fe, &a->backends[i]);
	if (err)
		terminate_failed(&a->fe, err);
}

/* Deletes first: they free map space the upserts of the same pass may need. */
static void apply_delete(struct pass *p, const struct socklb_frontend *fe)
{
	struct syncer *sy = p->sy;
	const struct applied_frontend *a;
	char name[FRONTEND_STRLEN];
	bool terminate;
	__u32 svc_id = 0;
	int err;

	if (!p->res->complete || desired_state_lookup(sy->desired, fe, NULL))
		return;
	a = applied_get(sy, fe);
	if (!a)
		return;
	/* It may be an invalid Service's, whose last good frontends we never saw: not ours to delete yet. */
	if (desired_state_possible_owner(sy->desired, fe, NULL)) {
		if (frontend_list_add(&p->kept, fe))
			pr_warn("out of memory: a kept frontend is looked at again only when its owner changes");
		return;
	}
	terminate = sy->term && terminator_wants(sy->term, fe->proto) && frontend_svc_id(sy, fe, &svc_id);
	err = socklb_service_delete(sy->maps, fe);
	if (err) {
		write_failed(p, fe, "deleting", NULL, err);
		return;
	}
	if (socklb_log_enabled(SOCKLB_LOG_DEBUG)) {
		frontend_format(fe, name, sizeof(name));
		pr_debug("deleted frontend %s", name);
	}
	if (sy->term)
		terminate_deleted(sy, a, terminate, svc_id);
	drop_applied(sy, fe);
	p->res->deletes++;
}

/* The backends an upsert of d takes out of a, with the frontend's id: NULL when none or not wanted. */
static struct socklb_endpoint *removed_backends(struct syncer *sy, const struct applied_frontend *a,
						const struct desired_frontend *d, __u32 *n, __u32 *svc_id)
{
	struct socklb_endpoint *removed;

	*n = 0;
	if (!sy->term || !a || !a->n_backends || !terminator_wants(sy->term, a->fe.proto))
		return NULL;
	removed = malloc(a->n_backends * sizeof(*removed));
	if (!removed) {
		terminate_failed(&a->fe, -ENOMEM);
		return NULL;
	}
	*n = (__u32)backends_removed(a->backends, a->n_backends, d->backends, d->n_backends, removed);
	if (!*n || !frontend_svc_id(sy, &a->fe, svc_id)) {
		free(removed);
		*n = 0;
		return NULL;
	}
	return removed;
}

static void apply_upsert(struct pass *p, const struct socklb_frontend *fe)
{
	struct syncer *sy = p->sy;
	const struct applied_frontend *a = applied_get(sy, fe);
	const char *owner;
	const struct desired_frontend *d = desired_state_lookup(sy->desired, fe, &owner);
	struct socklb_endpoint *removed;
	char name[FRONTEND_STRLEN];
	__u32 n_removed, svc_id;
	int err;

	if (!d || (a && same(d, a)))
		return;
	removed = removed_backends(sy, a, d, &n_removed, &svc_id);
	err = socklb_service_upsert(sy->maps, &d->fe, d->backends, d->n_backends, d->affinity_timeout);
	if (err) {
		free(removed);
		write_failed(p, fe, "writing", owner, err);
		return;
	}
	for (__u32 i = 0; i < n_removed && !err; i++)
		err = terminator_hold(sy->term, svc_id, &d->fe, &removed[i], p->now_ms);
	if (err)
		terminate_failed(&d->fe, err);
	free(removed);
	if (socklb_log_enabled(SOCKLB_LOG_DEBUG)) {
		frontend_format(fe, name, sizeof(name));
		pr_debug("wrote frontend %s of Service %s: %u backends", name, owner, d->n_backends);
	}
	if (set_applied(sy, &d->fe, d->affinity_timeout, d->backends, d->n_backends, true))
		pr_warn("out of memory recording a written frontend; the next pass writes it again");
	p->res->upserts++;
}

/* ---- socket termination: backends held for their grace period ------------------------ */

static int frontend_bsearch_cmp(const void *key, const void *item)
{
	return frontend_cmp(key, item);
}

static int endpoint_bsearch_cmp(const void *key, const void *item)
{
	return endpoint_cmp(key, item);
}

static bool applied_has(const struct syncer *sy, const struct socklb_frontend *fe, const struct socklb_endpoint *be)
{
	const struct applied_frontend *a = applied_get(sy, fe);

	return a && bsearch(be, a->backends, a->n_backends, sizeof(*be), endpoint_bsearch_cmp);
}

struct review {
	struct held_list *held;
	const char **owners; /* per held backend under review: its frontend's Service, "namespace/name" */
	struct hashmap *wanted; /* those Services */
};

#define OWNER_LEN 512

static int review_slice(const cJSON *slice, void *ctx)
{
	struct review *r = ctx;
	const char *svc = k8s_label(slice, K8S_LABEL_SERVICE_NAME);
	char owner[OWNER_LEN];
	int len;

	if (!svc)
		return 0;
	len = snprintf(owner, sizeof(owner), "%s/%s", k8s_namespace(slice), svc);
	if (len < 0 || len >= OWNER_LEN || !hashmap_get(r->wanted, owner, (size_t)len))
		return 0;
	for (size_t i = 0; i < r->held->n; i++) {
		struct held_backend *hb = &r->held->items[i];

		if (hb->state == HELD_LEFT && r->owners[i] && strcmp(r->owners[i], owner) == 0 &&
		    slice_has_serving_terminating(slice, &hb->fe, &hb->be))
			hb->state = HELD_SERVING_TERMINATING;
	}
	return 0;
}

/*
 * Look again at the held backends that are new or whose frontend this pass
 * touched (their Service or its slices changed): back in the frontend, still
 * serving and terminating in a slice of its Service, or neither. One walk over
 * the slices, and only when something is held.
 */
static int review_held(struct syncer *sy, const struct frontend_list *touched)
{
	struct held_list *h = terminator_held(sy->term);
	struct review r = { .held = h };
	int err = 0;

	if (!h->n)
		return 0;
	r.owners = calloc(h->n, sizeof(*r.owners));
	r.wanted = hashmap_new();
	if (!r.owners || !r.wanted) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < h->n && !err; i++) {
		struct held_backend *hb = &h->items[i];

		if (!hb->review && touched->n)
			hb->review = bsearch(&hb->fe, touched->items, touched->n, sizeof(*touched->items),
					     frontend_bsearch_cmp) != NULL;
		if (!hb->review)
			continue;
		if (applied_has(sy, &hb->fe, &hb->be)) {
			hb->state = HELD_BACK;
			continue;
		}
		hb->state = HELD_LEFT;
		desired_state_lookup(sy->desired, &hb->fe, &r.owners[i]);
		if (r.owners[i])
			err = hashmap_put(r.wanted, r.owners[i], strlen(r.owners[i]), (void *)1, NULL);
	}
	if (!err && hashmap_count(r.wanted)) {
		store_lock(sy->store);
		err = store_foreach(sy->store, K8S_ENDPOINTSLICE, review_slice, &r);
		store_unlock(sy->store);
	}
out:
	/* Not knowing is no reason to cut sockets early: then only the deadline counts. */
	for (size_t i = 0; err && i < h->n; i++)
		h->items[i].state = HELD_NOT_CHECKED;
	if (err)
		pr_warn("socket termination: cannot look at the held backends' endpoints: %s", strerror(-err));
	hashmap_free(r.wanted, NULL);
	free(r.owners);
	return err;
}

/* Run the batch, after the writes that took its backends out; its time is not the sync's. */
static void terminate(struct syncer *sy, struct sync_result *res)
{
	double start;

	if (!terminator_pending(sy->term))
		return;
	start = now_seconds(CLOCK_MONOTONIC);
	terminator_run(sy->term);
	res->terminate_seconds += now_seconds(CLOCK_MONOTONIC) - start;
}

/* A new frontend may take the id a delete of this pass freed. */
static bool creates_frontends(const struct syncer *sy, const struct frontend_list *touched)
{
	for (size_t i = 0; i < touched->n; i++) {
		if (!applied_get(sy, &touched->items[i]) && desired_state_lookup(sy->desired, &touched->items[i], NULL))
			return true;
	}
	return false;
}

static int collect_desired(const struct desired_frontend *df, void *ctx)
{
	return frontend_list_add(ctx, &df->fe);
}

static int collect_applied(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct applied_frontend *a = value;

	(void)key;
	(void)key_len;
	return frontend_list_add(ctx, &a->fe);
}

/* The first pass with a complete store looks at everything: it removes what disappeared while we were away. */
static int full_pass_list(struct syncer *sy, struct frontend_list *touched)
{
	int err = desired_state_foreach(sy->desired, collect_desired, touched);

	return err ? err : hashmap_foreach(sy->applied, collect_applied, touched);
}

struct ns_pass {
	struct syncer *sy;
	struct hashmap *want;
	struct pass *p;
};

static int want_namespace(const cJSON *ns, void *ctx)
{
	struct hashmap *want = ctx;
	const char *name = k8s_name(ns);
	__u32 value;

	if (!k8s_namespace_opt_in(ns, &value))
		return 0;
	if (strlen(name) >= SOCKLB_NS_NAME_LEN) {
		pr_warn("Namespace %s: name longer than %d characters cannot be %s", name, SOCKLB_NS_NAME_LEN - 1,
			ns_said(value));
		return 0;
	}
	return hashmap_put(want, name, strlen(name), ns_state(value), NULL);
}

static void namespace_failed(struct pass *p, const char *name, const char *what, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s namespace %s in the opt-in map: %s", what, name, strerror(-err));
	pr_err("%s", msg);
	p->res->errors++;
	if (p->sy->metrics)
		metrics_sync_error(p->sy->metrics, msg);
}

static int add_wanted_namespace(const void *key, size_t key_len, void *state, void *ctx)
{
	struct ns_pass *np = ctx;
	char name[SOCKLB_NS_NAME_LEN];
	int err;

	if (hashmap_get(np->sy->namespaces, key, key_len) == state)
		return 0;
	memcpy(name, key, key_len);
	name[key_len] = '\0';
	err = socklb_namespace_set(np->sy->maps, name, ns_value(state));
	if (err) {
		namespace_failed(np->p, name, "writing", err);
		return 0;
	}
	pr_info("namespace %s %s", name, ns_said(ns_value(state)));
	return hashmap_put(np->sy->namespaces, key, key_len, state, NULL);
}

struct ns_remove {
	struct ns_pass *np;
	char (*names)[SOCKLB_NS_NAME_LEN];
	size_t n;
};

static int find_unwanted(const void *key, size_t key_len, void *value, void *ctx)
{
	struct ns_remove *r = ctx;
	char(*names)[SOCKLB_NS_NAME_LEN];

	(void)value;
	if (hashmap_get(r->np->want, key, key_len) || key_len >= SOCKLB_NS_NAME_LEN)
		return 0;
	names = realloc(r->names, (r->n + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	r->names = names;
	memcpy(r->names[r->n], key, key_len);
	r->names[r->n++][key_len] = '\0';
	return 0;
}

/*
 * Publish the namespaces annotated "true" or "false"; removals (annotation
 * gone, Namespace deleted: the plugin config decides again) wait for a
 * complete store like every delete.
 */
static int sync_namespaces(struct syncer *sy, struct hashmap *want, struct pass *p)
{
	struct ns_pass np = { .sy = sy, .want = want, .p = p };
	struct ns_remove r = { .np = &np };
	int err = hashmap_foreach(want, add_wanted_namespace, &np);

	if (err || !p->res->complete)
		return err;
	err = hashmap_foreach(sy->namespaces, find_unwanted, &r);
	for (size_t i = 0; !err && i < r.n; i++) {
		int ret = socklb_namespace_delete(sy->maps, r.names[i]);

		if (ret) {
			namespace_failed(p, r.names[i], "removing", ret);
			continue;
		}
		pr_info("namespace %s left the opt-in map (no longer annotated)", r.names[i]);
		hashmap_remove(sy->namespaces, r.names[i], strlen(r.names[i]));
	}
	free(r.names);
	return err;
}

/* ---- invalid objects: the frontends kept for them, metrics ------------------------------- */

#define KEPT_OWNERS_NAMED 4

struct kept_owner {
	const char *service;
	const struct invalid_list *invalid;
	size_t frontends;
};

static void describe_owner(FILE *out, const struct kept_owner *o)
{
	const struct invalid_object *first = &o->invalid->items[0];
	char why[INVALID_NAME_LEN + INVALID_WHY_LEN + 32];

	invalid_format(first, why, sizeof(why));
	if (first->kind == K8S_SERVICE)
		fprintf(out, "%s", why);
	else
		fprintf(out, "Service %s (%s)", o->service, why);
	if (o->invalid->n > 1)
		fprintf(out, " and %zu more invalid objects", o->invalid->n - 1);
	fprintf(out, " (may own %zu)", o->frontends);
}

/*
 * One line for a pass that kept frontends (README "Semantics"): how many, and
 * which invalid objects hold their deletion back. Said when it changes; the
 * same again is for debug logs only.
 */
static void say_kept(struct syncer *sy)
{
	struct kept_owner owners[KEPT_OWNERS_NAMED];
	size_t n_owners = 0, unnamed = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (!sy->kept.n) {
		free(sy->kept_said);
		sy->kept_said = NULL;
		return;
	}
	for (size_t i = 0; i < sy->kept.n; i++) {
		const struct invalid_list *invalid;
		const char *service = desired_state_possible_owner(sy->desired, &sy->kept.items[i], &invalid);
		size_t k = 0;

		while (k < n_owners && strcmp(owners[k].service, service) != 0)
			k++;
		if (k < n_owners) {
			owners[k].frontends++;
		} else if (n_owners < KEPT_OWNERS_NAMED && invalid->n) {
			owners[n_owners++] =
				(struct kept_owner){ .service = service, .invalid = invalid, .frontends = 1 };
		} else {
			unnamed++;
		}
	}
	out = open_memstream(&text, &len);
	if (!out)
		return;
	fprintf(out,
		"keeping %zu pinned frontends that no valid Service claims until these objects are fixed or deleted: ",
		sy->kept.n);
	for (size_t k = 0; k < n_owners; k++) {
		fprintf(out, "%s", k ? "; " : "");
		describe_owner(out, &owners[k]);
	}
	if (unnamed)
		fprintf(out, "; other Services with invalid objects may own %zu", unnamed);
	if (fclose(out)) {
		free(text);
		return;
	}
	if (sy->kept_said && strcmp(sy->kept_said, text) == 0) {
		pr_debug("%s", text);
		free(text);
		return;
	}
	pr_warn("%s", text);
	free(sy->kept_said);
	sy->kept_said = text;
}

struct invalid_count {
	size_t services;
	size_t endpoint_slices;
};

static int count_one(const char *service, const struct invalid_object *o, void *ctx)
{
	struct invalid_count *c = ctx;

	(void)service;
	if (o->kind == K8S_SERVICE)
		c->services++;
	else
		c->endpoint_slices++;
	return 0;
}

/* Objects found invalid now: each new one is an error to count and show; all of them a gauge. */
static size_t count_invalid(struct syncer *sy, const struct desired_update *u)
{
	struct invalid_count c = { 0 };
	char msg[INVALID_NAME_LEN + INVALID_WHY_LEN + 32];

	desired_state_invalid_foreach(sy->desired, count_one, &c);
	if (!sy->metrics)
		return c.services + c.endpoint_slices;
	for (size_t i = 0; i < u->rejected.n; i++) {
		invalid_format(&u->rejected.items[i], msg, sizeof(msg));
		metrics_sync_error(sy->metrics, msg);
	}
	metrics_set_invalid_objects(sy->metrics, c.services, c.endpoint_slices);
	metrics_set_node_missing(sy->metrics, desired_state_node_missing(sy->desired));
	return c.services + c.endpoint_slices;
}

/* After the pass's writes: each change it took, from its trigger time to now; and the gauges of the pass. */
static void pass_metrics(struct syncer *sy, const struct sync_result *res, const double *trigger_times, size_t n)
{
	double now = now_seconds(CLOCK_REALTIME);

	for (size_t i = 0; i < n; i++)
		metrics_observe_programming(sy->metrics, now - trigger_times[i]);
	metrics_observe_sync(sy->metrics, res->seconds);
	metrics_set_programmed(sy->metrics, hashmap_count(sy->applied), sy->applied_backends);
	metrics_set_no_local_endpoints(sy->metrics, desired_state_no_local_endpoints(sy->desired, 4),
				       desired_state_no_local_endpoints(sy->desired, 6));
	/* kube-proxy's "successfully synced": everything known was written. */
	if (res->complete && res->errors == 0)
		metrics_set_last_sync(sy->metrics, now);
}

static int frontend_qsort_cmp(const void *a, const void *b)
{
	return frontend_cmp(a, b);
}

/* A frontend is touched by its old and new claims, the full pass and retries: write (and fail) it once. */
static void dedupe(struct frontend_list *l)
{
	size_t k = 0;

	if (!l->n)
		return;
	qsort(l->items, l->n, sizeof(*l->items), frontend_qsort_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (!k || frontend_cmp(&l->items[k - 1], &l->items[i]) != 0)
			l->items[k++] = l->items[i];
	}
	l->n = k;
}

/* Under the store lock: the annotated namespaces, when they may have changed. */
static int want_namespaces(struct syncer *sy, bool changed, struct hashmap **want)
{
	*want = NULL;
	sy->namespaces_dirty |= changed;
	if (!sy->namespaces_dirty)
		return 0;
	*want = hashmap_new();
	if (!*want)
		return -ENOMEM;
	return store_foreach(sy->store, K8S_NAMESPACE, want_namespace, *want);
}

int syncer_sync(struct syncer *sy, struct sync_result *res)
{
	double start = now_seconds(CLOCK_MONOTONIC);
	struct pass p = { .sy = sy, .res = res };
	struct hashmap *want_ns = NULL;
	double *trigger_times = NULL;
	struct desired_update u;
	size_t ns_errors, n_trigger_times = 0;
	bool full;
	int err;

	memset(res, 0, sizeof(*res));
	store_lock(sy->store);
	res->complete = store_complete(sy->store);
	err = desired_state_update(sy->desired, sy->store, &u);
	if (!err)
		err = want_namespaces(sy, u.namespaces_changed, &want_ns);
	/* Out of memory here only loses latency observations. */
	if (sy->changes)
		change_tracker_take(sy->changes, &trigger_times, &n_trigger_times);
	store_unlock(sy->store);
	if (err) {
		pr_err("computing the desired state: %s", strerror(-err));
		goto out;
	}
	res->retranslated = u.retranslated;
	full = res->complete && !sy->full_pass_done;
	if (full)
		err = full_pass_list(sy, &u.touched);
	for (size_t i = 0; !err && i < sy->retry.n; i++)
		err = frontend_list_add(&u.touched, &sy->retry.items[i]);
	/* Looked at again every pass: their owner may have been fixed or deleted. */
	for (size_t i = 0; !err && i < sy->kept.n; i++)
		err = frontend_list_add(&u.touched, &sy->kept.items[i]);
	if (err)
		goto out;
	dedupe(&u.touched);
	p.now_ms = now_ms();
	for (size_t i = 0; i < u.touched.n; i++)
		apply_delete(&p, &u.touched.items[i]);
	/* Deletes wait for a complete store: until then, nothing was looked at and the kept stay kept. */
	if (res->complete) {
		frontend_list_release(&sy->kept);
		sy->kept = p.kept;
		memset(&p.kept, 0, sizeof(p.kept));
		say_kept(sy);
	}
	res->kept = sy->kept.n;
	/* Terminations name service ids: those of deleted frontends go before an upsert can reuse one. */
	if (sy->term && terminator_pending(sy->term) && creates_frontends(sy, &u.touched))
		terminate(sy, res);
	for (size_t i = 0; i < u.touched.n; i++)
		apply_upsert(&p, &u.touched.items[i]);
	if (sy->term) {
		review_held(sy, &u.touched);
		terminator_settle(sy->term, p.now_ms);
		terminate(sy, res);
	}
	if (want_ns) {
		ns_errors = res->errors;
		err = sync_namespaces(sy, want_ns, &p);
		if (err)
			goto out;
		/* Removals wait for a complete store; failed writes are tried again. */
		sy->namespaces_dirty = !res->complete || res->errors != ns_errors;
	}
	if (res->errors > LOGGED_FAILURES_PER_PASS)
		pr_err("%zu more writes failed in this pass", res->errors - LOGGED_FAILURES_PER_PASS);
	frontend_list_release(&sy->retry);
	sy->retry = p.failed;
	memset(&p.failed, 0, sizeof(p.failed));
	if (full) {
		sy->full_pass_done = true;
		pr_info("initial sync done: %zu frontends with %zu backends", hashmap_count(sy->applied),
			sy->applied_backends);
	}
	sy->converged = sy->full_pass_done && res->errors == 0;
	res->seconds = now_seconds(CLOCK_MONOTONIC) - start - res->terminate_seconds;
	res->invalid = count_invalid(sy, &u);
	if (sy->metrics) {
		pass_metrics(sy, res, trigger_times, n_trigger_times);
		if (full)
			metrics_set_synced(sy->metrics);
	}
out:
	free(trigger_times);
	frontend_list_release(&p.failed);
	frontend_list_release(&p.kept);
	desired_update_release(&u);
	hashmap_free(want_ns, NULL);
	return err;
}

long long syncer_next_termination_ms(const struct syncer *sy)
{
	return sy->term ? terminator_next_deadline_ms(sy->term, now_ms()) : -1;
}

void syncer_terminate_due(struct syncer *sy)
{
	if (!sy->term)
		return;
	terminator_settle(sy->term, now_ms());
	terminator_run(sy->term);
}

bool syncer_pending_retries(const struct syncer *sy)
{
	return sy->retry.n > 0 || (sy->full_pass_done && sy->namespaces_dirty);
}

bool syncer_converged(const struct syncer *sy)
{
	return sy->converged;
}

int syncer_invalid_foreach(const struct syncer *sy, invalid_visit_cb cb, void *ctx)
{
	return desired_state_invalid_foreach(sy->desired, cb, ctx);
}
