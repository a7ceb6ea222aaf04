/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small hash map from byte strings to pointers, used by the store (objects
 * by namespace/name) and by the syncer (frontends, services). Not
 * thread-safe: its owner serialises access.
 */
#ifndef SOCKLB_HASHMAP_H
#define SOCKLB_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hashmap;

struct hashmap *hashmap_new(void);
/* free_value (may be NULL) is called for every value still held. */
void hashmap_free(struct hashmap *h, void (*free_value)(void *value));

void *hashmap_get(const struct hashmap *h, const void *key, size_t key_len);
/* Insert or replace; *old (may be NULL) receives the replaced value or NULL. -ENOMEM. */
int hashmap_put(struct hashmap *h, const void *key, size_t key_len, void *value, void **old);
/* Remove and return the value, or NULL when absent. */
void *hashmap_remove(struct hashmap *h, const void *key, size_t key_len);
size_t hashmap_count(const struct hashmap *h);

/* Visit every entry in no particular order; stops at a non-zero return. */
typedef int (*hashmap_visit_cb)(const void *key, size_t key_len, void *value, void *ctx);
int hashmap_foreach(const struct hashmap *h, hashmap_visit_cb cb, void *ctx);
/* Remove every entry for which pred returns true, passing its value to free_value. */
typedef bool (*hashmap_pred_cb)(void *value, void *ctx);
void hashmap_remove_if(struct hashmap *h, hashmap_pred_cb pred, void *ctx, void (*free_value)(void *value));

#endif /* SOCKLB_HASHMAP_H */
