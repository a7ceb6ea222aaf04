// SPDX-License-Identifier: Apache-2.0
#include "providers.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "intern.h"
#include "name_table.h"

/*
 * The definitions of one object, packed into its table entry: mark counts
 * them; bits holds the load that last stored one (shifted) and, in bit 0,
 * whether one went away while another stayed and none was stored since (the
 * store may hold the one that went).
 */
#define STALE ((uintptr_t)1)

struct providers {
	struct store *store;
	struct name_table objects[K8S_KIND_COUNT]; /* namespace/name → the entry itself; keys are references */
	size_t n_contested;
	uintptr_t load;
};

struct providers *providers_new(struct store *s)
{
	struct providers *p = calloc(1, sizeof(*p));

	if (p)
		p->store = s;
	return p;
}

void providers_free(struct providers *p)
{
	if (!p)
		return;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		struct name_table *t = &p->objects[k];

		for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e)) {
			intern_put(e->ns);
			intern_put(e->name);
		}
		name_table_release(t);
	}
	free(p);
}

void providers_next_load(struct providers *p)
{
	p->load++;
}

static bool contested(const struct name_entry *e)
{
	return e->mark > 1 || (e->bits & STALE);
}

static uintptr_t stored_at(const struct name_entry *e)
{
	return e->bits >> 1;
}

static struct name_entry *lookup(const struct providers *p, const struct object_key *key)
{
	return name_table_find(&p->objects[key->kind], key->ns, key->name);
}

/* Change one object's definitions, keeping the count of contested objects. */
static void update(struct providers *p, struct name_entry *e, long delta, bool stored)
{
	uintptr_t state = e->bits;

	p->n_contested -= contested(e);
	e->mark = (uint32_t)((long)e->mark + delta);
	if (stored)
		state = p->load << 1;
	else if (delta < 0 && e->mark > 0 && stored_at(e) != p->load)
		/* Unless this load stored one that stays (a changed item does), the store may hold the one that went. */
		state |= STALE;
	e->bits = state;
	p->n_contested += contested(e);
}

int providers_add(struct providers *p, const struct object_key *key)
{
	struct name_entry *e = lookup(p, key);

	if (!e) {
		e = name_table_insert(&p->objects[key->kind], key->ns, key->name);
		if (!e)
			return -ENOMEM;
		intern_ref(key->ns);
		intern_ref(key->name);
	}
	update(p, e, 1, true);
	return 0;
}

void providers_release(struct providers *p, const struct object_key *key)
{
	struct name_entry *e = lookup(p, key);

	if (e && e->mark)
		update(p, e, -1, false);
}

void providers_forget_unused(struct providers *p, const struct object_key *key)
{
	struct name_entry *e = lookup(p, key);
	const char *ns, *name;

	if (!e || e->mark)
		return;
	ns = e->ns;
	name = e->name;
	p->n_contested -= contested(e);
	name_table_remove(&p->objects[key->kind], e);
	store_delete(p->store, key->kind, ns, name);
	intern_put(ns);
	intern_put(name);
}

void providers_stored(struct providers *p, const struct object_key *key)
{
	struct name_entry *e = lookup(p, key);

	if (e)
		update(p, e, 0, true);
}

bool providers_contested(const struct providers *p, const struct object_key *key)
{
	const struct name_entry *e = p->n_contested ? lookup(p, key) : NULL;

	return e && contested(e);
}

bool providers_any_contested(const struct providers *p)
{
	return p->n_contested > 0;
}
