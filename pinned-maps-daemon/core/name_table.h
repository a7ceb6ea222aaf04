/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash table keyed by (namespace, name) pairs of interned strings
 * (intern.h): keys compare as pointers and hash from the hashes the strings
 * carry, so no key is copied or hashed again. The table holds no references:
 * whoever puts a key in keeps its strings alive while it is there. Open
 * addressing, at most three quarters full, growing by half: a large table
 * is on average about two thirds full. An entry's address is valid until
 * the next insert or remove. Not thread-safe: its owner serialises access.
 */
#ifndef SOCKLB_NAME_TABLE_H
#define SOCKLB_NAME_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct name_entry {
	const char *ns; /* NULL: a free slot */
	const char *name;
	union { /* the owner's: a pointer, or bits */
		void *value;
		uintptr_t bits;
	};
	uint32_t hash;
	uint32_t mark; /* the owner's */
};

struct name_table {
	struct name_entry *slots;
	size_t size; /* slots; any number: a key's first slot scales its hash to it */
	size_t count;
};

/* The hash of a key, from the strings' own (interned) or from their bytes. */
uint32_t name_hash(const char *ns, const char *name);
uint32_t name_hash_str(const char *ns, const char *name);

/* The table starts empty and zeroed ({ 0 } is an empty table). */
void name_table_release(struct name_table *t);
/* Room for n entries in all, made at once (a bulk insert then grows no more); -ENOMEM. */
int name_table_reserve(struct name_table *t, size_t n);
/* The entry of interned ns and name, or NULL. */
struct name_entry *name_table_find(const struct name_table *t, const char *ns, const char *name);
/* The same with any strings (compared by their bytes). */
struct name_entry *name_table_find_str(const struct name_table *t, const char *ns, const char *name);
/* The entry of interned ns and name, added (value NULL, mark 0) when absent; NULL when out of memory. */
struct name_entry *name_table_insert(struct name_table *t, const char *ns, const char *name);
void name_table_remove(struct name_table *t, struct name_entry *e);
/*
 * Remove every entry pred returns true for (after pred is done with it). An
 * entry may be shown twice: pred must say the same of it again.
 */
void name_table_remove_if(struct name_table *t, bool (*pred)(struct name_entry *e, void *ctx), void *ctx);

/* Every entry: for (e = name_table_first(t); e; e = name_table_next(t, e)), no insert or remove meanwhile. */
struct name_entry *name_table_first(const struct name_table *t);
struct name_entry *name_table_next(const struct name_table *t, struct name_entry *e);

#endif /* SOCKLB_NAME_TABLE_H */
