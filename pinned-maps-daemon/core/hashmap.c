// SPDX-License-Identifier: Apache-2.0
#include "hashmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hashmap_entry {
	struct hashmap_entry *next;
	uint64_t hash;
	void *value;
	size_t key_len;
	unsigned char key[];
};

struct hashmap {
	struct hashmap_entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t count;
};

#define HASHMAP_MIN_BUCKETS 64

/* FNV-1a, then a final mix so that the low bits (the bucket index) depend on every byte. */
static uint64_t hash_bytes(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct hashmap *hashmap_new(void)
{
	struct hashmap *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->buckets = calloc(HASHMAP_MIN_BUCKETS, sizeof(struct hashmap_entry *));
	if (!h->buckets) {
		free(h);
		return NULL;
	}
	h->n_buckets = HASHMAP_MIN_BUCKETS;
	return h;
}

void hashmap_free(struct hashmap *h, void (*free_value)(void *value))
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_buckets; i++) {
		struct hashmap_entry *e = h->buckets[i];

		while (e) {
			struct hashmap_entry *next = e->next;

			if (free_value)
				free_value(e->value);
			free(e);
			e = next;
		}
	}
	free(h->buckets);
	free(h);
}

static struct hashmap_entry **find_slot(const struct hashmap *h, const void *key, size_t key_len, uint64_t hash)
{
	struct hashmap_entry **slot = &h->buckets[hash & (h->n_buckets - 1)];

	for (; *slot; slot = &(*slot)->next) {
		const struct hashmap_entry *e = *slot;

		if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
			break;
	}
	return slot;
}

void *hashmap_get(const struct hashmap *h, const void *key, size_t key_len)
{
	struct hashmap_entry **slot = find_slot(h, key, key_len, hash_bytes(key, key_len));

	return *slot ? (*slot)->value : NULL;
}

/* Doubling keeps chains short; a failed grow only makes lookups slower. */
static void grow(struct hashmap *h)
{
	size_t n = h->n_buckets * 2;
	struct hashmap_entry **buckets = calloc(n, sizeof(struct hashmap_entry *));

	if (!buckets)
		return;
	for (size_t i = 0; i < h->n_buckets; i++) {
		struct hashmap_entry *e = h->buckets[i];

		while (e) {
			struct hashmap_entry *next = e->next;
			size_t b = e->hash & (n - 1);

			e->next = buckets[b];
			buckets[b] = e;
			e = next;
		}
	}
	free(h->buckets);
	h->buckets = buckets;
	h->n_buckets = n;
}

int hashmap_put(struct hashmap *h, const void *key, size_t key_len, void *value, void **old)
{
	uint64_t hash = hash_bytes(key, key_len);
	struct hashmap_entry **slot = find_slot(h, key, key_len, hash);
	struct hashmap_entry *e;

	if (*slot) {
		if (old)
			*old = (*slot)->value;
		(*slot)->value = value;
		return 0;
	}
	e = malloc(sizeof(*e) + key_len);
	if (!e)
		return -ENOMEM;
	e->hash = hash;
	e->value = value;
	e->key_len = key_len;
	memcpy(e->key, key, key_len);
	e->next = NULL;
	*slot = e;
	h->count++;
	if (old)
		*old = NULL;
	if (h->count > h->n_buckets)
		grow(h);
	return 0;
}

void *hashmap_remove(struct hashmap *h, const void *key, size_t key_len)
{
	struct hashmap_entry **slot = find_slot(h, key, key_len, hash_bytes(key, key_len));
	struct hashmap_entry *e = *slot;
	void *value;

	if (!e)
		return NULL;
	*slot = e->next;
	value = e->value;
	free(e);
	h->count--;
	return value;
}

size_t hashmap_count(const struct hashmap *h)
{
	return h->count;
}

int hashmap_foreach(const struct hashmap *h, hashmap_visit_cb cb, void *ctx)
{
	for (size_t i = 0; i < h->n_buckets; i++) {
		for (const struct hashmap_entry *e = h->buckets[i]; e; e = e->next) {
			int ret = cb(e->key, e->key_len, e->value, ctx);

			if (ret)
				return ret;
		}
	}
	return 0;
}

void hashmap_remove_if(struct hashmap *h, hashmap_pred_cb pred, void *ctx, void (*free_value)(void *value))
{
	for (size_t i = 0; i < h->n_buckets; i++) {
		struct hashmap_entry **slot = &h->buckets[i];

		while (*slot) {
			struct hashmap_entry *e = *slot;

			if (!pred(e->value, ctx)) {
				slot = &e->next;
				continue;
			}
			*slot = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
			h->count--;
		}
	}
}
