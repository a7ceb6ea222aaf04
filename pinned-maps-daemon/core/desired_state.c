// SPDX-License-Identifier: Apache-2.0
#include "desired_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend_scope.h"
#include "frontend_table.h"
#include "intern.h"
#include "k8s_node.h"
#include "log.h"
#include "name_table.h"

/* What the desired state knows of a Service whose objects are invalid. */
struct service_fault {
	struct invalid_list invalid; /* the objects at fault */
	struct frontend_scope scope; /* never good since we started: the frontends it may own */
};

struct service_entry {
	struct service_key key; /* holds references to its strings */
	struct service_fault *bad; /* the current objects are malformed: the frontends are the last good ones */
	struct desired_frontend *frontends; /* its translation (the last good one while bad) */
	__u32 n_frontends;
	bool was_good; /* translated valid since we started: its frontends are all it may own */
};

static void service_fault_free(struct service_fault *f)
{
	if (!f)
		return;
	invalid_list_release(&f->invalid);
	frontend_scope_release(&f->scope);
	free(f);
}

/* The frontends (and their backends) a translation gave: the entry keeps them, the result lets go. */
static void take_frontends(struct service_entry *e, struct service_frontends *result)
{
	struct service_frontends old = { .items = e->frontends, .n = e->n_frontends };

	service_frontends_release(&old);
	e->frontends = result->items;
	e->n_frontends = (__u32)result->n;
	result->items = NULL;
	result->n = result->cap = 0;
}

struct claim {
	struct claim *next;
	const struct service_entry *owner;
	const struct desired_frontend *df;
};

struct desired_state {
	struct translate_config cfg;
	struct name_table services; /* namespace/name → struct service_entry */
	struct frontend_table claims; /* frontend → struct claim list */
	struct name_table invalid; /* namespace/name → struct service_entry of services, while bad */
	const struct k8s_slice **slices; /* scratch: one service's slices */
	size_t slices_cap;
	bool rebuild; /* the change stream was lost: rebuild the index and translate everything */
	bool node_missing; /* the Nodes were listed and ours is not among them */
	size_t no_local_endpoints[2]; /* claimed frontends with desired_frontend.no_local_endpoints: IPv4, IPv6 */
};

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

static void service_entry_free(struct service_entry *e)
{
	struct service_frontends frontends = { .items = e->frontends, .n = e->n_frontends };

	service_frontends_release(&frontends);
	service_fault_free(e->bad);
	intern_put(e->key.ns);
	intern_put(e->key.name);
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

struct desired_state *desired_state_new(const struct translate_config *cfg)
{
	struct desired_state *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = *cfg;
	return d;
}

void desired_state_free(struct desired_state *d)
{
	if (!d)
		return;
	name_table_release(&d->invalid);
	frontend_table_release(&d->claims, claims_free);
	for (struct name_entry *e = name_table_first(&d->services); e; e = name_table_next(&d->services, e))
		service_entry_free(e->value);
	name_table_release(&d->services);
	free(d->slices);
	free(d);
}

static int key_cmp(const struct service_key *a, const struct service_key *b)
{
	return k8s_name_cmp(a->ns, a->name, b->ns, b->name);
}

static const struct claim *winner(const struct claim *c)
{
	const struct claim *best = c;

	for (; c; c = c->next) {
		if (key_cmp(&c->owner->key, &best->owner->key) < 0)
			best = c;
	}
	return best;
}

const struct desired_frontend *desired_state_lookup(const struct desired_state *d, const struct socklb_frontend *fe,
						    const struct service_key **owner)
{
	const struct claim *c = frontend_table_get(&d->claims, fe);

	if (c)
		c = winner(c);
	if (owner)
		*owner = c ? &c->owner->key : NULL;
	return c ? c->df : NULL;
}

struct foreach_ctx {
	desired_visit_cb cb;
	void *ctx;
};

static int visit_claim(void *value, void *ctx)
{
	const struct foreach_ctx *f = ctx;

	return f->cb(winner(value)->df, f->ctx);
}

int desired_state_foreach(const struct desired_state *d, desired_visit_cb cb, void *ctx)
{
	struct foreach_ctx f = { .cb = cb, .ctx = ctx };

	return frontend_table_foreach(&d->claims, visit_claim, &f);
}

size_t desired_state_count(const struct desired_state *d)
{
	return d->claims.count;
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
	for (size_t i = 0; i < e->n_frontends; i++) {
		const struct socklb_frontend *fe = &e->frontends[i].fe;
		struct claim **pc, *head = frontend_table_get(&d->claims, fe);

		for (pc = &head; *pc && (*pc)->owner != e; pc = &(*pc)->next)
			;
		if (*pc) {
			struct claim *gone = *pc;

			*pc = gone->next;
			count_no_local(d, gone->df, -1);
			free(gone);
		}
		/* The entry is there: replacing its value needs no room. */
		if (head)
			frontend_table_put(&d->claims, fe, head, NULL);
		else
			frontend_table_remove(&d->claims, fe);
		if (frontend_list_add(touched, fe))
			return -ENOMEM;
	}
	return 0;
}

static int claim(struct desired_state *d, const struct service_entry *e, struct frontend_list *touched)
{
	for (size_t i = 0; i < e->n_frontends; i++) {
		const struct desired_frontend *df = &e->frontends[i];
		struct claim *c = calloc(1, sizeof(*c));
		int err;

		if (!c)
			return -ENOMEM;
		c->owner = e;
		c->df = df;
		c->next = frontend_table_get(&d->claims, &df->fe);
		if (c->next) {
			const struct service_key *w = &winner(c)->owner->key;
			char fe[FRONTEND_STRLEN];

			frontend_format(&df->fe, fe, sizeof(fe));
			pr_warn("frontend %s is claimed by Service %s/%s and Service %s/%s; %s/%s wins (namespace/name "
				"order)",
				fe, c->next->owner->key.ns, c->next->owner->key.name, e->key.ns, e->key.name, w->ns,
				w->name);
		}
		err = frontend_table_put(&d->claims, &df->fe, c, NULL);
		if (err) {
			free(c);
			return err;
		}
		count_no_local(d, df, 1);
		if (frontend_list_add(touched, &df->fe))
			return -ENOMEM;
	}
	return 0;
}

struct update_ctx {
	struct desired_state *d;
	struct store *store;
	struct desired_update *u;
	struct name_table dirty; /* services to translate again; the keys are references */
	const struct node_view *node;
	bool all;
	bool node_changed; /* the daemon's Node */
	int err;
};

static void mark_dirty(struct update_ctx *uc, const char *ns, const char *name)
{
	struct name_entry *e = name_table_insert(&uc->dirty, ns, name);

	if (!e) {
		uc->err = -ENOMEM;
	} else if (!e->value) {
		e->value = (void *)1;
		intern_ref(ns);
		intern_ref(name);
	}
}

static int note_change(enum k8s_kind kind, const char *ns, const char *name, void *ctx)
{
	struct update_ctx *uc = ctx;
	const struct k8s_slice *slice;
	const char *previous;

	switch (kind) {
	case K8S_SERVICE:
		mark_dirty(uc, ns, name);
		break;
	case K8S_ENDPOINTSLICE:
		/* The Service it left, if any, and the one it belongs to now. */
		previous = store_change_previous_service(uc->store, ns, name);
		if (previous && *previous)
			mark_dirty(uc, ns, previous);
		slice = (const struct k8s_slice *)store_find(uc->store, kind, ns, name);
		if (slice && slice->service && *slice->service && slice->service != previous)
			mark_dirty(uc, ns, slice->service);
		break;
	case K8S_NODE:
		/* Zone and addresses feed every service's translation. */
		if (uc->d->cfg.node_name && strcmp(name, uc->d->cfg.node_name) == 0)
			uc->all = uc->node_changed = true;
		break;
	case K8S_NAMESPACE:
		uc->u->namespaces_changed = true;
		break;
	default:
		break;
	}
	return uc->err;
}

static int dirty_service(const struct k8s_object *obj, void *ctx)
{
	struct update_ctx *uc = ctx;

	mark_dirty(uc, obj->ns, obj->name);
	return uc->err;
}

/* Start over from the store: after lost changes. */
static int rebuild(struct update_ctx *uc)
{
	uc->all = true;
	uc->u->namespaces_changed = true;
	return uc->err;
}

static struct service_entry *service_entry_get(struct desired_state *d, const struct service_key *key)
{
	struct name_entry *slot = name_table_insert(&d->services, key->ns, key->name);
	struct service_entry *e;

	if (!slot)
		return NULL;
	if (slot->value)
		return slot->value;
	e = calloc(1, sizeof(*e));
	if (!e) {
		name_table_remove(&d->services, slot);
		return NULL;
	}
	e->key.ns = intern_ref(key->ns);
	e->key.name = intern_ref(key->name);
	slot->value = e;
	return e;
}

static void service_gone(struct update_ctx *uc, const struct service_key *key)
{
	struct name_entry *slot = name_table_find(&uc->d->services, key->ns, key->name);
	struct service_entry *e;

	if (!slot)
		return;
	e = slot->value;
	name_table_remove(&uc->d->services, slot);
	slot = name_table_find(&uc->d->invalid, key->ns, key->name);
	if (slot)
		name_table_remove(&uc->d->invalid, slot);
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
static int service_invalid(struct update_ctx *uc, struct service_entry *e, const struct k8s_service *svc,
			   struct invalid_list *invalid)
{
	struct invalid_list *rejected = &uc->u->rejected;
	struct name_entry *slot;
	int err = 0;

	if (!e->bad && !(e->bad = calloc(1, sizeof(*e->bad))))
		return -ENOMEM;
	for (size_t i = 0; i < invalid->n && !err; i++) {
		if (!invalid_list_has(&e->bad->invalid, &invalid->items[i]))
			err = invalid_list_add(rejected, &invalid->items[i]);
	}
	invalid_list_release(&e->bad->invalid);
	e->bad->invalid = *invalid;
	memset(invalid, 0, sizeof(*invalid));
	if (!err) {
		slot = name_table_insert(&uc->d->invalid, e->key.ns, e->key.name);
		if (slot)
			slot->value = e;
		else
			err = -ENOMEM;
	}
	if (e->n_frontends)
		pr_warn("Service %s/%s: keeping its %u last good frontends until its objects are valid again",
			e->key.ns, e->key.name, e->n_frontends);
	if (e->was_good || err)
		return err;
	frontend_scope_release(&e->bad->scope);
	return frontend_scope_build(svc, uc->node, &e->bad->scope);
}

/* The service's EndpointSlices, in the desired state's scratch array. */
static int service_slices(struct update_ctx *uc, const struct service_key *key, size_t *n)
{
	struct desired_state *d = uc->d;

	*n = 0;
	for (const struct k8s_slice *s = store_service_slices(uc->store, key->ns, key->name); s;
	     s = (const struct k8s_slice *)s->obj.link) {
		if (*n == d->slices_cap) {
			size_t cap = d->slices_cap ? d->slices_cap * 2 : 16;
			const struct k8s_slice **grown = realloc(d->slices, cap * sizeof(const struct k8s_slice *));

			if (!grown)
				return -ENOMEM;
			d->slices = grown;
			d->slices_cap = cap;
		}
		d->slices[(*n)++] = s;
	}
	return 0;
}

static void update_service(struct update_ctx *uc, const struct service_key *key)
{
	struct desired_state *d = uc->d;
	const struct k8s_service *svc;
	struct service_frontends result;
	struct service_entry *e;
	size_t n;
	int ret;

	svc = (const struct k8s_service *)store_find(uc->store, K8S_SERVICE, key->ns, key->name);
	if (!svc) {
		service_gone(uc, key);
		return;
	}
	ret = service_slices(uc, key, &n);
	e = ret ? NULL : service_entry_get(d, key);
	if (!e) {
		uc->err = -ENOMEM;
		return;
	}
	uc->u->retranslated++;
	ret = translate_service(svc, d->slices, n, uc->node, &d->cfg, &result);
	if (ret == -EINVAL) {
		ret = service_invalid(uc, e, svc, &result.invalid);
		service_frontends_release(&result);
		if (ret)
			uc->err = ret;
		return;
	}
	if (ret) {
		uc->err = ret;
		return;
	}
	if (e->bad) {
		struct name_entry *slot = name_table_find(&d->invalid, key->ns, key->name);

		pr_info("Service %s/%s: valid again", key->ns, key->name);
		if (slot)
			name_table_remove(&d->invalid, slot);
		service_fault_free(e->bad);
		e->bad = NULL;
	}
	e->was_good = true;
	ret = unclaim(d, e, &uc->u->touched);
	take_frontends(e, &result);
	service_frontends_release(&result);
	if (!ret)
		ret = claim(d, e, &uc->u->touched);
	if (ret)
		uc->err = ret;
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
	const struct k8s_node *node_obj;
	struct node_view node;
	int err;

	memset(u, 0, sizeof(*u));
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
		for (struct name_entry *e = name_table_first(&d->services); e; e = name_table_next(&d->services, e))
			mark_dirty(&uc, e->ns, e->name);
	}
	node_obj = d->cfg.node_name ? (const struct k8s_node *)store_get(s, K8S_NODE, "", d->cfg.node_name) : NULL;
	if (d->cfg.node_name && store_listed(s, K8S_NODE))
		note_node(d, node_obj != NULL);
	for (__u32 i = 0; uc.node_changed && node_obj && i < node_obj->n_ignored; i++)
		pr_warn("Node %s: ignoring status.addresses entry %s is not an IP address", d->cfg.node_name,
			k8s_node_ignored(node_obj)[i]);
	node_view_init(&node, node_obj);
	uc.node = &node;
	for (struct name_entry *e = name_table_first(&uc.dirty); e && !uc.err; e = name_table_next(&uc.dirty, e))
		update_service(&uc, &(struct service_key){ .ns = e->ns, .name = e->name });
	err = uc.err;
	/* Whatever failed half-way is redone from scratch next time. */
	if (err)
		d->rebuild = true;
out:
	for (struct name_entry *e = name_table_first(&uc.dirty); e; e = name_table_next(&uc.dirty, e)) {
		intern_put(e->ns);
		intern_put(e->name);
	}
	name_table_release(&uc.dirty);
	return err;
}

bool desired_state_node_missing(const struct desired_state *d)
{
	return d->node_missing;
}

const struct service_key *desired_state_possible_owner(const struct desired_state *d, const struct socklb_frontend *fe,
						       const struct invalid_list **invalid)
{
	const struct service_entry *found = NULL;

	for (struct name_entry *e = name_table_first(&d->invalid); e; e = name_table_next(&d->invalid, e)) {
		const struct service_entry *s = e->value;

		/* The first in namespace/name order, as for claims: the same frontend always names the same owner. */
		if (frontend_scope_has(&s->bad->scope, fe) && (!found || key_cmp(&s->key, &found->key) < 0))
			found = s;
	}
	if (invalid)
		*invalid = found ? &found->bad->invalid : NULL;
	return found ? &found->key : NULL;
}

int desired_state_invalid_foreach(const struct desired_state *d, invalid_visit_cb cb, void *ctx)
{
	for (struct name_entry *e = name_table_first(&d->invalid); e; e = name_table_next(&d->invalid, e)) {
		const struct service_entry *s = e->value;
		int err = 0;

		for (size_t i = 0; i < s->bad->invalid.n && !err; i++)
			err = cb(&s->key, &s->bad->invalid.items[i], ctx);
		if (err)
			return err;
	}
	return 0;
}
