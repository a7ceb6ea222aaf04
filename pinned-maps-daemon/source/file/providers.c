// SPDX-License-Identifier: Apache-2.0
#include "providers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hashmap.h"

/* The definitions of one object. */
struct provider {
	size_t count;
	unsigned long stored_at; /* the load that last stored one */
	/* One went away while another stayed, and none was stored since: the store may hold the one that went. */
	bool stale;
};

struct providers {
	struct store *store;
	struct hashmap *objects; /* "kind/namespace/name" → struct provider */
	size_t n_contested;
	unsigned long load;
};

struct providers *providers_new(struct store *s)
{
	struct providers *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->store = s;
	p->objects = hashmap_new();
	if (!p->objects) {
		free(p);
		return NULL;
	}
	return p;
}

void providers_free(struct providers *p)
{
	if (!p)
		return;
	hashmap_free(p->objects, free);
	free(p);
}

void providers_next_load(struct providers *p)
{
	p->load++;
}

static bool contested(const struct provider *pv)
{
	return pv->count > 1 || pv->stale;
}

/* The object's key in the map; -ENAMETOOLONG for names the store refuses anyway. */
static int object_key_string(char *buf, size_t len, const struct object_key *key)
{
	int n = snprintf(buf, len, "%d/%s/%s", (int)key->kind, key->ns, key->name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

#define KEY_STRLEN 600

/* The object's definitions; created (count 0) when create is set. NULL when absent or out of memory. */
static struct provider *lookup(const struct providers *p, const struct object_key *key, bool create)
{
	char buf[KEY_STRLEN];
	int len = object_key_string(buf, sizeof(buf), key);
	struct provider *pv;

	if (len < 0)
		return NULL;
	pv = hashmap_get(p->objects, buf, len);
	if (pv || !create)
		return pv;
	pv = calloc(1, sizeof(*pv));
	if (pv && hashmap_put(p->objects, buf, len, pv, NULL)) {
		free(pv);
		pv = NULL;
	}
	return pv;
}

/* Change one object's definitions, keeping the count of contested objects. */
static void update(struct providers *p, struct provider *pv, long delta, bool stored)
{
	p->n_contested -= contested(pv);
	pv->count = (size_t)((long)pv->count + delta);
	if (stored) {
		pv->stored_at = p->load;
		pv->stale = false;
	} else if (delta < 0 && pv->count > 0 && pv->stored_at != p->load) {
		/* Unless this load stored one that stays (a changed item does), the store may hold the one that went. */
		pv->stale = true;
	}
	p->n_contested += contested(pv);
}

int providers_add(struct providers *p, const struct object_key *key)
{
	char buf[KEY_STRLEN];
	struct provider *pv;

	/* A name too long for a key is one the store refuses: nothing to count. */
	if (object_key_string(buf, sizeof(buf), key) < 0)
		return 0;
	pv = lookup(p, key, true);
	if (!pv)
		return -ENOMEM;
	update(p, pv, 1, true);
	return 0;
}

void providers_release(struct providers *p, const struct object_key *key)
{
	struct provider *pv = lookup(p, key, false);

	if (pv && pv->count)
		update(p, pv, -1, false);
}

void providers_forget_unused(struct providers *p, const struct object_key *key)
{
	char buf[KEY_STRLEN];
	int len = object_key_string(buf, sizeof(buf), key);
	struct provider *pv;

	if (len < 0 || !(pv = hashmap_get(p->objects, buf, len)) || pv->count)
		return;
	free(hashmap_remove(p->objects, buf, len));
	store_delete(p->store, key->kind, key->ns, key->name);
}

void providers_stored(struct providers *p, const struct object_key *key)
{
	struct provider *pv = lookup(p, key, false);

	if (pv)
		update(p, pv, 0, true);
}

bool providers_contested(const struct providers *p, const struct object_key *key)
{
	const struct provider *pv = p->n_contested ? lookup(p, key, false) : NULL;

	return pv && contested(pv);
}

bool providers_any_contested(const struct providers *p)
{
	return p->n_contested > 0;
}
