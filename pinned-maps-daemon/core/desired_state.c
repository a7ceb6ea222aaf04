// SPDX-License-Identifier: Apache-2.0
#include "desired_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend_scope.h"
#include "hashmap.h"
#include "k8s_object.h"
#include "log.h"

struct service_entry {
	char *key; /* "namespace/name" */
	bool bad; /* the current objects are malformed: result is the last good one */
	bool was_good; /* translated valid since we started: result is all it may own */
	struct invalid_list invalid; /* while bad: the objects at fault */
	struct frontend_scope scope; /* while bad and never good: the frontends it may own */
	struct service_frontends result;
};

struct claim {
	struct claim *next;
	const struct service_entry *owner;
	const struct desired_frontend *df;
};

/* The EndpointSlices of one service (names in the service's namespace), from their service-name label. */
struct slice_set {
	size_t n;
	size_t cap;
	char **names;
};

struct desired_state {
	struct translate_config cfg;
	struct hashmap *services; /* "namespace/name" → struct service_entry */
	struct hashmap *claims; /* frontend key → struct claim list */
	struct hashmap *slice_owner; /* slice "namespace/name" → service "namespace/name" (char *) */
	struct hashmap *service_slices; /* service "namespace/name" → struct slice_set */
	struct hashmap *invalid; /* "namespace/name" → struct service_entry of services, while bad */
	bool rebuild; /* the change stream was lost: rebuild the index and translate everything */
	bool node_missing; /* the Nodes were listed and ours is not among them */
	size_t no_local_endpoints[2]; /* claimed frontends with desired_frontend.no_local_endpoints: IPv4, IPv6 */
};

#define KEY_LEN 512

static int make_key(char *buf, const char *ns, const char *name)
{
	int n = snprintf(buf, KEY_LEN, "%s/%s", ns, name);

	return n < 0 || n >= KEY_LEN ? -ENAMETOOLONG : n;
}

int frontend_list_add(struct frontend_list *l, const struct socklb_frontend *fe)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct socklb_frontend *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = *fe;
	return 0;
}

void frontend_list_release(struct frontend_list *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void desired_update_release(struct desired_update *u)
{
	frontend_list_release(&u->touched);
	invalid_list_release(&u->rejected);
	memset(u, 0, sizeof(*u));
}

static void service_entry_free(void *value)
{
	struct service_entry *e = value;

	service_frontends_release(&e->result);
	invalid_list_release(&e->invalid);
	frontend_scope_release(&e->scope);
	free(e->key);
	free(e);
}

static void claims_free(void *value)
{
	struct claim *c = value;

	while (c) {
		struct claim *next = c->next;

		free(c);
		c = next;
	}
}

static void slice_set_free(void *value)
{
	struct slice_set *set = value;

	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	free(set);
}

struct desired_state *desired_state_new(const struct translate_config *cfg)
{
	struct desired_state *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = *cfg;
	d->services = hashmap_new();
	d->claims = hashmap_new();
	d->slice_owner = hashmap_new();
	d->service_slices = hashmap_new();
	d->invalid = hashmap_new();
	if (!d->services || !d->claims || !d->slice_owner || !d->service_slices || !d->invalid) {
		desired_state_free(d);
		return NULL;
	}
	return d;
}

void desired_state_free(struct desired_state *d)
{
	if (!d)
		return;
	hashmap_free(d->invalid, NULL);
	hashmap_free(d->service_slices, slice_set_free);
	hashmap_free(d->slice_owner, free);
	hashmap_free(d->claims, claims_free);
	hashmap_free(d->services, service_entry_free);
	free(d);
}

static const struct claim *winner(const struct claim *c)
{
	const struct claim *best = c;

	for (; c; c = c->next) {
		if (strcmp(c->owner->key, best->owner->key) < 0)
			best = c;
	}
	return best;
}

const struct desired_frontend *desired_state_lookup(const struct desired_state *d, const struct socklb_frontend *fe,
						    const char **owner)
{
	unsigned char key[FRONTEND_KEY_LEN];
	const struct claim *c;

	frontend_key(fe, key);
	c = hashmap_get(d->claims, key, sizeof(key));
	if (c)
		c = winner(c);
	if (owner)
		*owner = c ? c->owner->key : NULL;
	return c ? c->df : NULL;
}

struct foreach_ctx {
	desired_visit_cb cb;
	void *ctx;
};

static int visit_claim(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct foreach_ctx *f = ctx;

	(void)key;
	(void)key_len;
	return f->cb(winner(value)->df, f->ctx);
}

int desired_state_foreach(const struct desired_state *d, desired_visit_cb cb, void *ctx)
{
	struct foreach_ctx f = { .cb = cb, .ctx = ctx };

	return hashmap_foreach(d->claims, visit_claim, &f);
}

size_t desired_state_count(const struct desired_state *d)
{
	return hashmap_count(d->claims);
}

/* Claims and unclaims keep the count of frontends without a local endpoint. */
static void count_no_local(struct desired_state *d, const struct desired_frontend *df, int sign)
{
	if (df->no_local_endpoints)
		d->no_local_endpoints[socklb_addr_is_v4(df->fe.addr) ? 0 : 1] += (size_t)sign;
}

size_t desired_state_no_local_endpoints(const struct desired_state *d, int family)
{
	return d->no_local_endpoints[family == 4 ? 0 : 1];
}

static int unclaim(struct desired_state *d, const struct service_entry *e, struct frontend_list *touched)
{
	for (size_t i = 0; i < e->result.n; i++) {
		const struct socklb_frontend *fe = &e->result.items[i].fe;
		unsigned char key[FRONTEND_KEY_LEN];
		struct claim **pc, *head;

		count_no_local(d, &e->result.items[i], -1);
		frontend_key(fe, key);
		head = hashmap_get(d->claims, key, sizeof(key));
		for (pc = &head; *pc && (*pc)->owner != e; pc = &(*pc)->next)
			;
		if (*pc) {
			struct claim *gone = *pc;

			*pc = gone->next;
			free(gone);
		}
		if (head)
			hashmap_put(d->claims, key, sizeof(key), head, NULL);
		else
			hashmap_remove(d->claims, key, sizeof(key));
		if (frontend_list_add(touched, fe))
			return -ENOMEM;
	}
	return 0;
}

static int claim(struct desired_state *d, const struct service_entry *e, struct frontend_list *touched)
{
	for (size_t i = 0; i < e->result.n; i++) {
		const struct desired_frontend *df = &e->result.items[i];
		unsigned char key[FRONTEND_KEY_LEN];
		struct claim *c = calloc(1, sizeof(*c));
		int err;

		if (!c)
			return -ENOMEM;
		count_no_local(d, df, 1);
		frontend_key(&df->fe, key);
		c->owner = e;
		c->df = df;
		c->next = hashmap_get(d->claims, key, sizeof(key));
		if (c->next) {
			char fe[FRONTEND_STRLEN];

			frontend_format(&df->fe, fe, sizeof(fe));
			pr_warn("frontend %s is claimed by Service %s and Service %s; %s wins (namespace/name order)",
				fe, c->next->owner->key, e->key, winner(c)->owner->key);
		}
		err = hashmap_put(d->claims, key, sizeof(key), c, NULL);
		if (err) {
			free(c);
			return err;
		}
		if (frontend_list_add(touched, &df->fe))
			return -ENOMEM;
	}
	return 0;
}

struct update_ctx {
	struct desired_state *d;
	struct store *store;
	struct desired_update *u;
	struct hashmap *dirty; /* service keys to translate again */
	const struct node_view *node;
	bool all;
	int err;
};

static void mark_dirty(struct update_ctx *uc, const char *key, size_t len)
{
	if (!hashmap_get(uc->dirty, key, len) && hashmap_put(uc->dirty, key, len, (void *)1, NULL))
		uc->err = -ENOMEM;
}

static void slice_set_remove(struct slice_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->names[i], name) == 0) {
			free(set->names[i]);
			set->names[i] = set->names[--set->n];
			return;
		}
	}
}

static int slice_set_add(struct desired_state *d, const char *owner, size_t owner_len, const char *name)
{
	struct slice_set *set = hashmap_get(d->service_slices, owner, owner_len);
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set || hashmap_put(d->service_slices, owner, owner_len, set, NULL)) {
			free(set);
			free(copy);
			return -ENOMEM;
		}
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 2;
		char **names = realloc(set->names, cap * sizeof(*names));

		if (!names) {
			free(copy);
			return -ENOMEM;
		}
		set->names = names;
		set->cap = cap;
	}
	set->names[set->n++] = copy;
	return 0;
}

/* Move the slice ns/name to the service its label names now; both services need translating again. */
static void reindex_slice(struct update_ctx *uc, const char *ns, const char *name, const cJSON *slice)
{
	struct desired_state *d = uc->d;
	const char *svc = slice ? k8s_label(slice, K8S_LABEL_SERVICE_NAME) : NULL;
	char key[KEY_LEN], owner[KEY_LEN];
	int len = make_key(key, ns, name), owner_len;
	char *old;

	if (len < 0)
		return;
	old = hashmap_remove(d->slice_owner, key, len);
	if (old) {
		struct slice_set *set = hashmap_get(d->service_slices, old, strlen(old));

		if (set)
			slice_set_remove(set, name);
		mark_dirty(uc, old, strlen(old));
		free(old);
	}
	if (!svc || !*svc || (owner_len = make_key(owner, ns, svc)) < 0)
		return;
	old = strdup(owner);
	if (!old || hashmap_put(d->slice_owner, key, len, old, NULL) || slice_set_add(d, owner, owner_len, name)) {
		uc->err = -ENOMEM;
		return;
	}
	mark_dirty(uc, owner, owner_len);
}

static int note_change(enum k8s_kind kind, const char *ns, const char *name, void *ctx)
{
	struct update_ctx *uc = ctx;
	char key[KEY_LEN];
	const cJSON *obj;
	int len;

	switch (kind) {
	case K8S_SERVICE:
		len = make_key(key, ns, name);
		if (len >= 0)
			mark_dirty(uc, key, len);
		break;
	case K8S_ENDPOINTSLICE:
		obj = store_get(uc->store, kind, ns, name);
		reindex_slice(uc, ns, name, obj);
		break;
	case K8S_NODE:
		/* Zone and addresses feed every service's translation. */
		if (uc->d->cfg.node_name && strcmp(name, uc->d->cfg.node_name) == 0)
			uc->all = true;
		break;
	case K8S_NAMESPACE:
		uc->u->namespaces_changed = true;
		break;
	default:
		break;
	}
	return uc->err;
}

static int index_slice(const cJSON *slice, void *ctx)
{
	struct update_ctx *uc = ctx;

	reindex_slice(uc, k8s_namespace(slice), k8s_name(slice), slice);
	return uc->err;
}

static int dirty_service(const cJSON *svc, void *ctx)
{
	struct update_ctx *uc = ctx;
	char key[KEY_LEN];
	int len = make_key(key, k8s_namespace(svc), k8s_name(svc));

	if (len >= 0)
		mark_dirty(uc, key, len);
	return uc->err;
}

static int dirty_cached(const void *key, size_t key_len, void *value, void *ctx)
{
	(void)value;
	mark_dirty(ctx, key, key_len);
	return 0;
}

/* Start over from the store: after lost changes. */
static int rebuild(struct update_ctx *uc)
{
	struct desired_state *d = uc->d;

	hashmap_free(d->service_slices, slice_set_free);
	hashmap_free(d->slice_owner, free);
	d->service_slices = hashmap_new();
	d->slice_owner = hashmap_new();
	if (!d->service_slices || !d->slice_owner)
		return -ENOMEM;
	store_foreach(uc->store, K8S_ENDPOINTSLICE, index_slice, uc);
	uc->all = true;
	uc->u->namespaces_changed = true;
	return uc->err;
}

static struct service_entry *service_entry_get(struct desired_state *d, const char *key, size_t len)
{
	struct service_entry *e = hashmap_get(d->services, key, len);

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = strndup(key, len);
	if (!e->key || hashmap_put(d->services, key, len, e, NULL)) {
		free(e->key);
		free(e);
		return NULL;
	}
	return e;
}

static void service_gone(struct update_ctx *uc, const char *key, size_t len)
{
	struct service_entry *e = hashmap_remove(uc->d->services, key, len);

	if (!e)
		return;
	hashmap_remove(uc->d->invalid, key, len);
	if (unclaim(uc->d, e, &uc->u->touched))
		uc->err = -ENOMEM;
	service_entry_free(e);
}

/*
 * A bad edit must not take down what was working: e keeps serving its last
 * good frontends. Never valid since we started, it has none; the frontends
 * it may own are then read from its readable fields, so that the syncer keeps
 * them in the maps (it cannot tell them from stale ones).
 */
static int service_invalid(struct update_ctx *uc, struct service_entry *e, const cJSON *svc,
			   struct invalid_list *invalid)
{
	struct invalid_list *rejected = &uc->u->rejected;
	int err = 0;

	for (size_t i = 0; i < invalid->n && !err; i++) {
		if (!invalid_list_has(&e->invalid, &invalid->items[i]))
			err = invalid_list_add(rejected, &invalid->items[i]);
	}
	invalid_list_release(&e->invalid);
	e->invalid = *invalid;
	memset(invalid, 0, sizeof(*invalid));
	e->bad = true;
	if (!err)
		err = hashmap_put(uc->d->invalid, e->key, strlen(e->key), e, NULL);
	if (e->result.n)
		pr_warn("Service %s: keeping its %zu last good frontends until its objects are valid again", e->key,
			e->result.n);
	if (e->was_good || err)
		return err;
	frontend_scope_release(&e->scope);
	return frontend_scope_build(svc, uc->node, &e->scope);
}

static int update_service(const void *k, size_t len, void *value, void *ctx)
{
	struct update_ctx *uc = ctx;
	struct desired_state *d = uc->d;
	const cJSON **slices = NULL, *svc;
	const struct slice_set *set;
	struct service_frontends result;
	struct service_entry *e;
	char key[KEY_LEN], *name;
	size_t n = 0;
	int ret;

	(void)value;
	if (len >= KEY_LEN)
		return 0;
	memcpy(key, k, len);
	key[len] = '\0';
	name = strchr(key, '/');
	if (!name)
		return 0;
	*name++ = '\0';
	svc = store_get(uc->store, K8S_SERVICE, key, name);
	name[-1] = '/';
	if (!svc) {
		service_gone(uc, key, len);
		return uc->err;
	}
	set = hashmap_get(d->service_slices, key, len);
	if (set && set->n) {
		slices = calloc(set->n, sizeof(const cJSON *));
		if (!slices)
			return uc->err = -ENOMEM;
		for (size_t i = 0; i < set->n; i++) {
			slices[n] = store_get(uc->store, K8S_ENDPOINTSLICE, k8s_namespace(svc), set->names[i]);
			n += slices[n] != NULL;
		}
	}
	e = service_entry_get(d, key, len);
	uc->u->retranslated++;
	ret = e ? translate_service(svc, slices, n, uc->node, &d->cfg, &result) : -ENOMEM;
	free(slices);
	if (ret == -EINVAL) {
		ret = service_invalid(uc, e, svc, &result.invalid);
		service_frontends_release(&result);
		return ret ? (uc->err = ret) : 0;
	}
	if (ret)
		return uc->err = ret;
	if (e->bad) {
		pr_info("Service %s: valid again", key);
		hashmap_remove(d->invalid, key, len);
		invalid_list_release(&e->invalid);
		frontend_scope_release(&e->scope);
	}
	e->bad = false;
	e->was_good = true;
	ret = unclaim(d, e, &uc->u->touched);
	service_frontends_release(&e->result);
	e->result = result;
	if (!ret)
		ret = claim(d, e, &uc->u->touched);
	if (ret)
		uc->err = ret;
	return uc->err;
}

/*
 * Without its Node the daemon does not know its zone nor its addresses for
 * node ports: say so once, and once more when it appears. Local endpoints
 * and node hints go by the name alone, as in kube-proxy; a Node missing for
 * long often means the name is wrong, and then none would match.
 */
static void note_node(struct desired_state *d, bool present)
{
	if (!present && !d->node_missing)
		pr_warn("Node %s (--node-name) is not in the input: node ports are not programmed and zone hints are "
			"off until it appears (local endpoints and node hints match endpoints by this name: is it "
			"right?)",
			d->cfg.node_name);
	else if (present && d->node_missing)
		pr_info("Node %s appeared: node ports and zone hints apply", d->cfg.node_name);
	d->node_missing = !present;
}

int desired_state_update(struct desired_state *d, struct store *s, struct desired_update *u)
{
	struct update_ctx uc = { .d = d, .store = s, .u = u };
	const cJSON *node_obj;
	struct node_view node;
	int err;

	memset(u, 0, sizeof(*u));
	uc.dirty = hashmap_new();
	if (!uc.dirty)
		return -ENOMEM;
	err = store_take_changes(s, note_change, &uc);
	if (err || d->rebuild) {
		pr_warn("lost track of some changes (%s): translating every service again", strerror(-err));
		uc.err = 0;
		err = rebuild(&uc);
		d->rebuild = err != 0;
		if (err)
			goto out;
	}
	if (uc.all) {
		store_foreach(s, K8S_SERVICE, dirty_service, &uc);
		hashmap_foreach(d->services, dirty_cached, &uc);
	}
	node_obj = d->cfg.node_name ? store_get(s, K8S_NODE, "", d->cfg.node_name) : NULL;
	if (d->cfg.node_name && store_listed(s, K8S_NODE))
		note_node(d, node_obj != NULL);
	err = node_view_init(&node, node_obj);
	if (!err) {
		uc.node = &node;
		hashmap_foreach(uc.dirty, update_service, &uc);
		err = uc.err;
		node_view_release(&node);
	}
	/* Whatever failed half-way is redone from scratch next time. */
	if (err)
		d->rebuild = true;
out:
	hashmap_free(uc.dirty, NULL);
	return err;
}

bool desired_state_node_missing(const struct desired_state *d)
{
	return d->node_missing;
}

struct owner_search {
	const struct socklb_frontend *fe;
	const struct service_entry *found;
};

static int search_owner(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct service_entry *e = value;
	struct owner_search *os = ctx;

	(void)key;
	(void)key_len;
	/* The first in namespace/name order, as for claims: the same frontend always names the same owner. */
	if (frontend_scope_has(&e->scope, os->fe) && (!os->found || strcmp(e->key, os->found->key) < 0))
		os->found = e;
	return 0;
}

const char *desired_state_possible_owner(const struct desired_state *d, const struct socklb_frontend *fe,
					 const struct invalid_list **invalid)
{
	struct owner_search os = { .fe = fe };

	hashmap_foreach(d->invalid, search_owner, &os);
	if (invalid)
		*invalid = os.found ? &os.found->invalid : NULL;
	return os.found ? os.found->key : NULL;
}

struct invalid_visit {
	invalid_visit_cb cb;
	void *ctx;
};

static int visit_invalid(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct service_entry *e = value;
	const struct invalid_visit *v = ctx;
	int err = 0;

	(void)key;
	(void)key_len;
	for (size_t i = 0; i < e->invalid.n && !err; i++)
		err = v->cb(e->key, &e->invalid.items[i], v->ctx);
	return err;
}

int desired_state_invalid_foreach(const struct desired_state *d, invalid_visit_cb cb, void *ctx)
{
	struct invalid_visit v = { .cb = cb, .ctx = ctx };

	return hashmap_foreach(d->invalid, visit_invalid, &v);
}
