// SPDX-License-Identifier: Apache-2.0
#include "name_table.h"
#include "table_slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intern.h"

#define MIN_SLOTS 64

static uint32_t combine(uint32_t ns, uint32_t name)
{
	uint64_t h = ((uint64_t)ns << 32 | name) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32);
}

uint32_t name_hash(const char *ns, const char *name)
{
	return combine(intern_hash(ns), intern_hash(name));
}

uint32_t name_hash_str(const char *ns, const char *name)
{
	return combine(str_hash(ns, strlen(ns)), str_hash(name, strlen(name)));
}

void name_table_release(struct name_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

struct name_entry *name_table_find(const struct name_table *t, const char *ns, const char *name)
{
	uint32_t hash;

	if (!t->count)
		return NULL;
	hash = name_hash(ns, name);
	for (size_t i = table_home(hash, t->size); t->slots[i].ns; i = table_next(i, t->size)) {
		struct name_entry *e = &t->slots[i];

		if (e->hash == hash && e->ns == ns && e->name == name)
			return e;
	}
	return NULL;
}

struct name_entry *name_table_find_str(const struct name_table *t, const char *ns, const char *name)
{
	uint32_t hash;

	if (!t->count)
		return NULL;
	hash = name_hash_str(ns, name);
	for (size_t i = table_home(hash, t->size); t->slots[i].ns; i = table_next(i, t->size)) {
		struct name_entry *e = &t->slots[i];

		if (e->hash == hash && strcmp(e->ns, ns) == 0 && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static struct name_entry *place(struct name_entry *slots, size_t size, uint32_t hash)
{
	size_t i;

	for (i = table_home(hash, size); slots[i].ns; i = table_next(i, size))
		;
	return &slots[i];
}

/* Rehash into n slots. */
static int resize(struct name_table *t, size_t n)
{
	struct name_entry *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; t->slots && i < t->size; i++) {
		if (t->slots[i].ns)
			*place(slots, n, t->slots[i].hash) = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->size = n;
	return 0;
}

static int grow(struct name_table *t)
{
	return resize(t, t->slots ? t->size + t->size / 2 : MIN_SLOTS);
}

int name_table_reserve(struct name_table *t, size_t n)
{
	size_t size = t->size ? t->size : MIN_SLOTS;

	while (4 * n > 3 * size)
		size += size / 2;
	return size > t->size ? resize(t, size) : 0;
}

struct name_entry *name_table_insert(struct name_table *t, const char *ns, const char *name)
{
	uint32_t hash;
	size_t i;

	/* Room first, so that one probe finds the entry or the slot it goes to. */
	if (4 * (t->count + 1) > 3 * t->size && grow(t))
		return NULL;
	hash = name_hash(ns, name);
	for (i = table_home(hash, t->size); t->slots[i].ns; i = table_next(i, t->size)) {
		struct name_entry *e = &t->slots[i];

		if (e->hash == hash && e->ns == ns && e->name == name)
			return e;
	}
	t->slots[i] = (struct name_entry){ .ns = ns, .name = name, .hash = hash };
	t->count++;
	return &t->slots[i];
}

/* Linear probing without tombstones: the entries after the hole move back into it. */
void name_table_remove(struct name_table *t, struct name_entry *e)
{
	size_t i = (size_t)(e - t->slots), j = i;

	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->count--;
	for (;;) {
		size_t h;

		j = table_next(j, t->size);
		if (!t->slots[j].ns)
			return;
		h = table_home(t->slots[j].hash, t->size);
		/* The entry at j may fill the hole at i when its home is not in (i, j], cyclically. */
		if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
			t->slots[i] = t->slots[j];
			memset(&t->slots[j], 0, sizeof(t->slots[j]));
			i = j;
		}
	}
}

void name_table_remove_if(struct name_table *t, bool (*pred)(struct name_entry *e, void *ctx), void *ctx)
{
	for (size_t i = 0; i < t->size; i++) {
		/* A removal may move the next entry into this slot: look at it again. */
		while (t->slots[i].ns && pred(&t->slots[i], ctx))
			name_table_remove(t, &t->slots[i]);
	}
}

struct name_entry *name_table_first(const struct name_table *t)
{
	for (size_t i = 0; i < t->size; i++) {
		if (t->slots[i].ns)
			return &t->slots[i];
	}
	return NULL;
}

struct name_entry *name_table_next(const struct name_table *t, struct name_entry *e)
{
	for (e++; e < t->slots + t->size; e++) {
		if (e->ns)
			return e;
	}
	return NULL;
}
