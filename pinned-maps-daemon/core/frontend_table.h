/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash table keyed by frontends (address, port, protocol), the key kept in
 * the slot: the desired state's claims and the syncer's record of what the
 * maps hold, one entry per frontend, looked up for every frontend a pass
 * touches. Open addressing, at most three quarters full, growing by half;
 * an entry's address is valid until the next put or remove. Not
 * thread-safe: its owner serialises access.
 */
#ifndef SOCKLB_FRONTEND_TABLE_H
#define SOCKLB_FRONTEND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "lbmap.h"

/* A frontend as key bytes: its address, then its port (big-endian), then its protocol. */
#define FRONTEND_KEY_LEN 19

struct frontend_slot {
	unsigned char key[FRONTEND_KEY_LEN];
	uint8_t used;
	uint32_t hash;
	void *value;
};

struct frontend_table {
	struct frontend_slot *slots;
	size_t size;
	size_t count;
};

/* Frontends as hash keys: explicit bytes, so struct padding never matters. */
void frontend_key(const struct socklb_frontend *fe, unsigned char key[FRONTEND_KEY_LEN]);

/* The table starts empty and zeroed ({ 0 } is an empty table); free_value (may be NULL) gets every value. */
void frontend_table_release(struct frontend_table *t, void (*free_value)(void *value));
/* The frontend's value, or NULL. */
void *frontend_table_get(const struct frontend_table *t, const struct socklb_frontend *fe);
/* Set the frontend's value (not NULL); *old (may be NULL) gets the one it replaced or NULL. -ENOMEM. */
int frontend_table_put(struct frontend_table *t, const struct socklb_frontend *fe, void *value, void **old);
/* Remove the frontend and return its value, or NULL when absent. */
void *frontend_table_remove(struct frontend_table *t, const struct socklb_frontend *fe);
/* Every value, in no particular order; stops at a non-zero return. No put or remove meanwhile. */
int frontend_table_foreach(const struct frontend_table *t, int (*cb)(void *value, void *ctx), void *ctx);

#endif /* SOCKLB_FRONTEND_TABLE_H */
