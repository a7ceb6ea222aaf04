/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The structure of a JSON document without a tree: where the items of its
 * list are, and a 64-bit hash of each item's bytes. The file source compares
 * those hashes with the last load's and parses (cJSON) only the items whose
 * bytes changed, so an edit of one object in a 26 MB list costs one read and
 * one pass over the bytes, not a parse of everything.
 *
 * The scan checks what it must understand to cut the document: strings and
 * their escapes, brackets and their nesting (at most CJSON_NESTING_LIMIT
 * deep, as cJSON), the members of the top-level object, the commas between
 * items, and that nothing but whitespace follows the document. What is inside
 * an item beyond that is checked by cJSON when the item is parsed; an item
 * whose bytes a previous load parsed needs no check.
 */
#ifndef SOCKLB_JSON_SCAN_H
#define SOCKLB_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_item {
	size_t offset; /* of its first byte */
	size_t len;
	uint64_t hash; /* of its bytes */
};

struct json_list {
	/*
	 * The document is an object whose member "items" (the first one, as cJSON
	 * finds it) is an array: its brackets are [offset, offset + len). False for
	 * anything else (a single object, "items": null), which is then parsed whole.
	 */
	bool found;
	size_t offset;
	size_t len;
	size_t n_items;
	size_t cap_items;
	struct json_item *items;
};

struct json_scan_error {
	size_t offset; /* where the problem is */
	long item; /* the index of the item it is in; -1 outside the items */
	char what[64]; /* "unterminated string", "']' where '}' was expected", ... */
};

/*
 * Scan text; 0, -EINVAL (err says what and where), -ENOMEM. The list starts
 * zeroed or as an earlier scan left it, whose items buffer is used again; it
 * is the caller's to release.
 */
int json_scan_list(const char *text, size_t len, struct json_list *list, struct json_scan_error *err);
void json_list_release(struct json_list *list);

#endif /* SOCKLB_JSON_SCAN_H */
