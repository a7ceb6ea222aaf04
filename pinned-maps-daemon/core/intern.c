// SPDX-License-Identifier: Apache-2.0
#include "intern.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct istr {
	uint32_t refs;
	uint32_t hash;
	char str[];
};

/* Open addressing, linear probing, at most half full. */
static struct {
	pthread_mutex_t lock;
	struct istr **slots;
	size_t mask;
	size_t count;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define POOL_MIN_SLOTS 1024

static struct istr *header(const char *s)
{
	return (struct istr *)(s - offsetof(struct istr, str));
}

uint32_t str_hash(const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = len * k, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, sizeof(w));
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s + i, len - i);
	h = (h ^ w) * k;
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 31;
	return (uint32_t)h;
}

uint32_t intern_hash(const char *s)
{
	return header(s)->hash;
}

static int grow(void)
{
	size_t n = pool.slots ? (pool.mask + 1) * 2 : POOL_MIN_SLOTS;
	struct istr **slots = calloc(n, sizeof(struct istr *));

	if (!slots)
		return -1;
	for (size_t i = 0; pool.slots && i <= pool.mask; i++) {
		struct istr *e = pool.slots[i];
		size_t j;

		if (!e)
			continue;
		for (j = e->hash & (n - 1); slots[j]; j = (j + 1) & (n - 1))
			;
		slots[j] = e;
	}
	free(pool.slots);
	pool.slots = slots;
	pool.mask = n - 1;
	return 0;
}

const char *intern(const char *s, size_t len)
{
	uint32_t hash = str_hash(s, len);
	struct istr *e = NULL;
	size_t i;

	pthread_mutex_lock(&pool.lock);
	if ((!pool.slots || 2 * (pool.count + 1) > pool.mask + 1) && grow())
		goto out;
	for (i = hash & pool.mask; (e = pool.slots[i]); i = (i + 1) & pool.mask) {
		if (e->hash == hash && strncmp(e->str, s, len) == 0 && e->str[len] == '\0') {
			e->refs++;
			goto out;
		}
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		goto out;
	e->refs = 1;
	e->hash = hash;
	memcpy(e->str, s, len);
	e->str[len] = '\0';
	pool.slots[i] = e;
	pool.count++;
out:
	pthread_mutex_unlock(&pool.lock);
	return e ? e->str : NULL;
}

const char *intern_ref(const char *s)
{
	if (s) {
		pthread_mutex_lock(&pool.lock);
		header(s)->refs++;
		pthread_mutex_unlock(&pool.lock);
	}
	return s;
}

/* Linear probing without tombstones: the entries after a hole move back into it. */
static void remove_slot(size_t i)
{
	size_t j = i;

	pool.slots[i] = NULL;
	for (;;) {
		struct istr *e;
		size_t home;

		j = (j + 1) & pool.mask;
		e = pool.slots[j];
		if (!e)
			return;
		home = e->hash & pool.mask;
		/* e may fill the hole when its home is not in (i, j] cyclically. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			pool.slots[i] = e;
			pool.slots[j] = NULL;
			i = j;
		}
	}
}

void intern_put(const char *s)
{
	struct istr *e;
	size_t i;

	if (!s)
		return;
	e = header(s);
	pthread_mutex_lock(&pool.lock);
	if (--e->refs == 0) {
		for (i = e->hash & pool.mask; pool.slots[i] != e; i = (i + 1) & pool.mask)
			;
		remove_slot(i);
		pool.count--;
		free(e);
	}
	pthread_mutex_unlock(&pool.lock);
}
