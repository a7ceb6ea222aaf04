/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte scan both JSON readers cross strings with (json_reader.c, which
 * decodes objects, and the file source's json_scan.c, which finds a list's
 * items): strings are most of a Kubernetes object's bytes, so they are
 * searched eight bytes at a time.
 */
#ifndef SOCKLB_JSON_BYTES_H
#define SOCKLB_JSON_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t json_load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Flags the bytes of w equal to c: the lowest flag is the first such byte (flags above it may be false). */
static inline uint64_t json_bytes_equal(uint64_t w, unsigned char c)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x = w ^ (ones * c);

	return (x - ones) & ~x & highs;
}
#endif

/* From pos, the first '"' or '\\' of t[pos, end), or end. */
static inline size_t json_find_quote_or_escape(const unsigned char *t, size_t pos, size_t end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (pos + 8 <= end) {
		uint64_t w = json_load64(t + pos);
		uint64_t hit = json_bytes_equal(w, '"') | json_bytes_equal(w, '\\');

		if (hit)
			return pos + (size_t)__builtin_ctzll(hit) / 8;
		pos += 8;
	}
#endif
	while (pos < end && t[pos] != '"' && t[pos] != '\\')
		pos++;
	return pos;
}

#endif
