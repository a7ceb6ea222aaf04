// SPDX-License-Identifier: Apache-2.0
/*
 * Differential: the file source's fast path against cJSON. The file source
 * does not parse a list file whole: json_scan_list() cuts it into its items,
 * object_list_header() parses what is left around them, and each item is
 * parsed alone (object_list_parse_item()). That is only right if, for any
 * document, it agrees with one cJSON parse of the whole text, the way
 * object_list_parse() reads a document that is not a list:
 *
 *   - validity: the fast path accepts the text exactly when cJSON does
 *     (one value, nothing but whitespace after it);
 *   - item cuts: when it does, the scan found the array cJSON finds as the
 *     document's "items", its items are cJSON's items one for one (each
 *     piece parses alone to what cJSON has at that index), and the rest of
 *     the document names the same kind.
 *
 * Input: the document's bytes (NULs included: the file source reads bytes).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "json_scan.h"
#include "k8s_object.h"
#include "object_list.h"

/* The whole-document reading: cJSON's one value, then only what cJSON skips as whitespace. */
static cJSON *parse_whole(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);

	if (!doc)
		return NULL;
	while (end < text + len && (unsigned char)*end <= ' ')
		end++;
	if (end < text + len) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* An item as the fast path reads it: its bytes alone, all of them one value. */
static cJSON *parse_item(const char *text, const struct json_item *item)
{
	const char *start = text + item->offset, *end = NULL;
	cJSON *obj = cJSON_ParseWithLengthOpts(start, item->len, &end, false);

	if (obj && end != start + item->len) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

/*
 * Two trees are the same when they print the same: cJSON_Compare() looks a
 * member up by name, so an object with a name twice never equals even itself.
 */
static bool same_tree(const cJSON *a, const cJSON *b)
{
	char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
	bool same;

	if (!x || !y)
		abort();
	same = strcmp(x, y) == 0;
	cJSON_free(x);
	cJSON_free(y);
	return same;
}

/* The kind the whole document's "kind" implies for its items, as object_list_header() reports it. */
static int whole_is_list(const cJSON *doc, int *implied)
{
	const cJSON *member = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	const char *kind = cJSON_IsString(member) ? member->valuestring : NULL;

	if (kind && strcmp(kind, "List") == 0) {
		*implied = -1;
		return 1;
	}
	*implied = k8s_list_kind_parse(kind);
	return *implied >= 0;
}

/*
 * The fast path over a list the scan found: 0 when it accepts it (and then
 * its items, compared with the whole parse's when there is one), -1 when it
 * refuses it.
 */
static int fast_list(struct object_parser *p, const char *text, size_t len, const struct json_list *list,
		     const cJSON *whole)
{
	const cJSON *items = whole ? cJSON_GetObjectItemCaseSensitive(whole, "items") : NULL;
	int implied, want_implied, is_list, ret = 0;

	is_list = object_list_header(p, text, len, list, "fuzz", &implied);
	if (is_list < 0)
		return -1;
	/* The rest of the document names the same kind as the whole: the skeleton lost nothing. */
	if (whole && (is_list != whole_is_list(whole, &want_implied) || (is_list && implied != want_implied)))
		abort();
	/* Where the scan found the items, cJSON finds an array with as many. */
	if (whole && (!cJSON_IsArray(items) || (size_t)cJSON_GetArraySize(items) != list->n_items))
		abort();
	for (size_t i = 0; i < list->n_items; i++) {
		cJSON *obj = parse_item(text, &list->items[i]);

		if (!obj) {
			ret = -1;
			break;
		}
		if (whole && !same_tree(obj, cJSON_GetArrayItem(items, (int)i)))
			abort();
		cJSON_Delete(obj);
	}
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* NUL-terminated like the file source's buffer, which cJSON's skipping relies on. */
	char *text = malloc(size + 1);
	struct json_scan_error where;
	struct json_list list = { 0 };
	struct object_parser parser;
	bool fast_ok;
	cJSON *whole;
	int ret;

	if (!text || object_parser_init(&parser))
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_logs_quiet();
	whole = parse_whole(text, size);
	ret = json_scan_list(text, size, &list, &where);
	if (ret == -ENOMEM)
		abort();
	if (ret) {
		/* A refusal says where, within the text. */
		if (!where.what[0] || where.offset > size)
			abort();
		fast_ok = false;
	} else if (list.found) {
		fast_ok = fast_list(&parser, text, size, &list, whole) == 0;
	} else {
		/* No list found: the file source parses the document whole, as the reference does. */
		fast_ok = whole != NULL;
	}
	if (fast_ok != (whole != NULL))
		abort();
	json_list_release(&list);
	object_parser_release(&parser);
	cJSON_Delete(whole);
	free(text);
	return 0;
}
