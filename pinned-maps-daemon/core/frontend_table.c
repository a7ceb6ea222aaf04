// SPDX-License-Identifier: Apache-2.0
#include "frontend_table.h"
#include "table_slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64

void frontend_key(const struct socklb_frontend *fe, unsigned char key[FRONTEND_KEY_LEN])
{
	memcpy(key, fe->addr, 16);
	key[16] = (unsigned char)(fe->port >> 8);
	key[17] = (unsigned char)fe->port;
	key[18] = fe->proto;
}

static uint32_t key_hash(const unsigned char key[FRONTEND_KEY_LEN])
{
	uint64_t a, b, h;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	h = (a ^ ((uint64_t)key[16] << 16 | (uint64_t)key[17] << 8 | key[18])) * 0x9e3779b97f4a7c15ULL;
	h = (h ^ b ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
	return (uint32_t)(h ^ (h >> 32));
}

void frontend_table_release(struct frontend_table *t, void (*free_value)(void *value))
{
	for (size_t i = 0; free_value && i < t->size; i++) {
		if (t->slots[i].used)
			free_value(t->slots[i].value);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The slot of key, or the empty slot where it would go. */
static struct frontend_slot *find(const struct frontend_table *t, const unsigned char key[FRONTEND_KEY_LEN],
				  uint32_t hash)
{
	size_t i;

	for (i = table_home(hash, t->size); t->slots[i].used; i = table_next(i, t->size)) {
		if (t->slots[i].hash == hash && memcmp(t->slots[i].key, key, FRONTEND_KEY_LEN) == 0)
			break;
	}
	return &t->slots[i];
}

void *frontend_table_get(const struct frontend_table *t, const struct socklb_frontend *fe)
{
	unsigned char key[FRONTEND_KEY_LEN];
	struct frontend_slot *s;

	if (!t->count)
		return NULL;
	frontend_key(fe, key);
	s = find(t, key, key_hash(key));
	return s->used ? s->value : NULL;
}

static int grow(struct frontend_table *t)
{
	size_t n = t->size ? t->size + t->size / 2 : MIN_SLOTS;
	struct frontend_slot *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->size; i++) {
		size_t j;

		if (!t->slots[i].used)
			continue;
		for (j = table_home(t->slots[i].hash, n); slots[j].used; j = table_next(j, n))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->size = n;
	return 0;
}

int frontend_table_put(struct frontend_table *t, const struct socklb_frontend *fe, void *value, void **old)
{
	unsigned char key[FRONTEND_KEY_LEN];
	struct frontend_slot *s;
	uint32_t hash;

	if (4 * (t->count + 1) > 3 * t->size && grow(t))
		return -ENOMEM;
	frontend_key(fe, key);
	hash = key_hash(key);
	s = find(t, key, hash);
	if (old)
		*old = s->used ? s->value : NULL;
	if (!s->used) {
		memcpy(s->key, key, FRONTEND_KEY_LEN);
		s->used = 1;
		s->hash = hash;
		t->count++;
	}
	s->value = value;
	return 0;
}

/* Linear probing without tombstones: the entries after the hole move back into it. */
void *frontend_table_remove(struct frontend_table *t, const struct socklb_frontend *fe)
{
	unsigned char key[FRONTEND_KEY_LEN];
	struct frontend_slot *s;
	size_t i, j;
	void *value;

	if (!t->count)
		return NULL;
	frontend_key(fe, key);
	s = find(t, key, key_hash(key));
	if (!s->used)
		return NULL;
	value = s->value;
	i = j = (size_t)(s - t->slots);
	memset(s, 0, sizeof(*s));
	t->count--;
	for (;;) {
		size_t h;

		j = table_next(j, t->size);
		if (!t->slots[j].used)
			return value;
		h = table_home(t->slots[j].hash, t->size);
		/* The entry at j may fill the hole at i when its home is not in (i, j], cyclically. */
		if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
			t->slots[i] = t->slots[j];
			memset(&t->slots[j], 0, sizeof(t->slots[j]));
			i = j;
		}
	}
}

int frontend_table_foreach(const struct frontend_table *t, int (*cb)(void *value, void *ctx), void *ctx)
{
	for (size_t i = 0; i < t->size; i++) {
		int ret = t->slots[i].used ? cb(t->slots[i].value, ctx) : 0;

		if (ret)
			return ret;
	}
	return 0;
}
