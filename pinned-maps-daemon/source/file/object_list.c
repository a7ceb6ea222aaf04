// SPDX-License-Identifier: Apache-2.0
#include "object_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int object_batch_add(struct object_batch *b, struct k8s_object *obj)
{
	unsigned int k = obj->kind;

	if (b->n[k] == b->cap[k]) {
		size_t cap = b->cap[k] ? b->cap[k] * 2 : 64;
		struct k8s_object **items = realloc(b->items[k], cap * sizeof(struct k8s_object *));

		if (!items) {
			k8s_object_free(obj);
			return -ENOMEM;
		}
		b->items[k] = items;
		b->cap[k] = cap;
	}
	b->items[k][b->n[k]++] = obj;
	return 0;
}

void object_batch_release(struct object_batch *b)
{
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		for (size_t i = 0; i < b->n[k]; i++)
			k8s_object_free(b->items[k][i]);
		free(b->items[k]);
	}
	memset(b, 0, sizeof(*b));
}

int object_parser_init(struct object_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->decoder = k8s_decoder_new();
	return p->decoder ? 0 : -ENOMEM;
}

void object_parser_release(struct object_parser *p)
{
	k8s_decoder_free(p->decoder);
	json_reader_release(&p->reader);
	memset(p, 0, sizeof(*p));
}

static void error_position(const char *text, size_t offset, size_t *line, size_t *column)
{
	const char *p = text, *end = text + offset, *nl;

	*line = 1;
	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		(*line)++;
		p = nl + 1;
	}
	*column = (size_t)(end - p) + 1;
}

void object_list_report_invalid(const char *origin, const char *text, size_t offset, long item, const char *what)
{
	char where[48] = "";
	size_t line, column;

	error_position(text, offset, &line, &column);
	if (item >= 0)
		snprintf(where, sizeof(where), ", items[%ld]", item);
	pr_err("%s: invalid JSON at line %zu, column %zu (byte %zu%s)%s%s", origin, line, column, offset, where,
	       what ? ": " : "", what ? what : "");
}

/* The reader failed: say where when the text is not JSON. */
static int reader_failed(const struct json_reader *r, const char *origin, long item)
{
	if (r->err == -EINVAL)
		object_list_report_invalid(origin, r->text, r->err_offset, item, r->err_what);
	return r->err;
}

/* The rest of the value and of the text must be JSON: nothing else counts once a value is refused. */
static int check_rest(struct json_reader *r, const char *origin, long item)
{
	if (json_skip(r) || json_expect_end(r))
		return reader_failed(r, origin, item);
	return 0;
}

/*
 * Decode the object at r as kind into *obj (NULL for an EndpointSlice of
 * another apiVersion: discovery.k8s.io/v1beta1 slices have other fields,
 * refused loudly). The reader's failures are the caller's to report.
 */
static int decode_object(struct object_parser *p, struct json_reader *r, int kind, const char *origin,
			 struct k8s_object **obj)
{
	struct k8s_decode_info info = { 0 };
	int err = k8s_decode(p->decoder, r, (enum k8s_kind)kind, &info, obj);

	if (err || !info.other_api_version)
		return err;
	pr_warn("%s: EndpointSlice %s/%s: apiVersion %s is not supported (discovery.k8s.io/v1 is)", origin, (*obj)->ns,
		(*obj)->name ? (*obj)->name : "", info.api_version);
	k8s_object_free(*obj);
	*obj = NULL;
	return 0;
}

/*
 * One item of a list, at r: its object (NULL for kinds the daemon does not
 * read) or the reason it is refused in why (the JSON is checked first:
 * a document that is not JSON is refused as such).
 */
static int parse_item(struct object_parser *p, struct json_reader *r, size_t index, int implied, const char *origin,
		      struct k8s_object **obj, char *why, size_t why_len)
{
	char kind_name[64] = "";
	int kind, named;

	*obj = NULL;
	if (json_peek(r) != JSON_OBJECT) {
		snprintf(why, why_len, "items[%zu] is not an object", index);
		return r->err ? r->err : json_skip(r);
	}
	named = k8s_decode_kind_name(r, kind_name, sizeof(kind_name));
	if (named < 0)
		return named;
	kind = named ? k8s_kind_parse(kind_name) : implied;
	if (!named && implied < 0) {
		snprintf(why, why_len, "items[%zu] has no kind", index);
		return json_skip(r);
	}
	if (kind < 0) {
		pr_debug("%s: items[%zu]: ignoring kind %s", origin, index, kind_name);
		return json_skip(r);
	}
	return decode_object(p, r, kind, origin, obj);
}

/* The members of a list document other than its items, and the items as they come. */
static int parse_list(struct object_parser *p, struct json_reader *r, int implied, const char *origin,
		      struct object_batch *b)
{
	char why[128] = "";
	bool items_seen = false;
	struct json_str name;
	int ret;

	if (json_enter_object(r))
		return reader_failed(r, origin, -1);
	while ((ret = json_next_member(r, &name)) == 1) {
		/* The first member named items, as cJSON finds it; null is no items. */
		bool items = JSON_STR_IS(&name, "items") && !items_seen;
		size_t i = 0;

		items_seen |= items;
		if (items && json_peek(r) != JSON_ARRAY && json_peek(r) != JSON_NULL)
			snprintf(why, sizeof(why), "items is not a list");
		if (!items || json_peek(r) != JSON_ARRAY) {
			if (json_skip(r))
				break;
			continue;
		}
		if (json_enter_array(r))
			break;
		while ((ret = json_next_element(r)) == 1) {
			struct k8s_object *obj;

			ret = *why ? json_skip(r) : parse_item(p, r, i++, implied, origin, &obj, why, sizeof(why));
			if (ret)
				break;
			if (!*why && obj && object_batch_add(b, obj))
				return -ENOMEM;
		}
		if (ret)
			break;
	}
	if (ret || json_expect_end(r))
		return reader_failed(r, origin, -1);
	if (*why) {
		pr_err("%s: %s", origin, why);
		return -EINVAL;
	}
	return 0;
}

int object_list_parse(struct object_parser *p, const char *text, size_t len, const char *origin, struct object_batch *b)
{
	struct json_reader *r = &p->reader;
	char kind_name[64] = "";
	struct k8s_object *obj;
	int kind, named, err;

	/* A UTF-8 byte order mark is skipped where cJSON skips it. */
	json_reader_init(r, text, len > 4 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, len);
	named = k8s_decode_kind_name(r, kind_name, sizeof(kind_name));
	if (named < 0)
		return reader_failed(r, origin, -1);
	if (!named) {
		err = check_rest(r, origin, -1);
		if (!err)
			pr_err("%s: not a Kubernetes object or list: no kind at the top level", origin);
		return err ? err : -EINVAL;
	}
	if (strcmp(kind_name, "List") == 0)
		return parse_list(p, r, -1, origin, b);
	if ((kind = k8s_list_kind_parse(kind_name)) >= 0)
		return parse_list(p, r, kind, origin, b);
	if ((kind = k8s_kind_parse(kind_name)) < 0) {
		err = check_rest(r, origin, -1);
		if (!err)
			pr_warn("%s: ignoring a document of kind %s", origin, kind_name);
		return err;
	}
	if (decode_object(p, r, kind, origin, &obj) || json_expect_end(r)) {
		k8s_object_free(obj);
		return reader_failed(r, origin, -1);
	}
	return obj ? object_batch_add(b, obj) : 0;
}

int object_list_header(struct object_parser *p, const char *text, size_t len, const struct json_list *list,
		       const char *origin, int *implied)
{
	struct json_reader *r = &p->reader;
	char kind_name[64] = "";
	bool kind_seen = false, is_string = false;
	struct json_str name;
	int ret;

	json_reader_init(r, text, len > 4 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, len);
	if (json_enter_object(r))
		return reader_failed(r, origin, -1);
	while ((ret = json_next_member(r, &name)) == 1) {
		/* The items are read one by one later: what they are is not this pass's business. */
		if (json_tell(r).pos == list->offset) {
			json_seek(r, (struct json_mark){ .pos = list->offset + list->len, .depth = r->depth });
			continue;
		}
		if (JSON_STR_IS(&name, "kind") && !kind_seen && json_peek(r) == JSON_STRING) {
			struct json_str kind;

			kind_seen = is_string = true;
			ret = json_read_string(r, &kind);
			snprintf(kind_name, sizeof(kind_name), "%.*s",
				 (int)(kind.len < sizeof(kind_name) ? kind.len : sizeof(kind_name) - 1), kind.p);
		} else {
			kind_seen |= JSON_STR_IS(&name, "kind");
			ret = json_skip(r);
		}
		if (ret)
			break;
	}
	if (ret || json_expect_end(r))
		return reader_failed(r, origin, -1);
	if (is_string && strcmp(kind_name, "List") == 0) {
		*implied = -1;
		return 1;
	}
	*implied = is_string ? k8s_list_kind_parse(kind_name) : -1;
	return *implied >= 0;
}

int object_list_parse_item(struct object_parser *p, const char *text, const struct json_item *item, size_t index,
			   int implied, const char *origin, struct k8s_object **obj)
{
	struct json_reader *r = &p->reader;
	char why[128] = "";
	int err;

	json_reader_init(r, text, item->offset, item->offset + item->len);
	err = parse_item(p, r, index, implied, origin, obj, why, sizeof(why));
	if (!err)
		err = json_expect_end(r);
	if (err) {
		k8s_object_free(*obj);
		*obj = NULL;
		return reader_failed(r, origin, (long)index);
	}
	if (*why) {
		pr_err("%s: %s", origin, why);
		return -EINVAL;
	}
	return 0;
}
