/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a key goes in the store's open-addressing tables (name_table.c,
 * frontend_table.c): linear probing from a home slot.
 */
#ifndef SOCKLB_TABLE_SLOTS_H
#define SOCKLB_TABLE_SLOTS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The first slot of a hash: the hash, mixed with the table's size, scaled to
 * it (no modulo, no power of two). A table is walked in the order of its
 * slots; a table of another size filled in that order must not see its keys
 * come in the order of their slots too (they would pile up at its start).
 */
static inline size_t table_home(uint32_t hash, size_t size)
{
	uint32_t h = (hash ^ (uint32_t)size) * 0x9e3779b1u;

	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return (size_t)(((uint64_t)h * size) >> 32);
}

static inline size_t table_next(size_t i, size_t size)
{
	return i + 1 == size ? 0 : i + 1;
}

#endif
