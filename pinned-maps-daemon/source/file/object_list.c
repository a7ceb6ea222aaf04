// SPDX-License-Identifier: Apache-2.0
#include "object_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_object.h"
#include "log.h"

int object_batch_init(struct object_batch *b)
{
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		b->items[k] = cJSON_CreateArray();
		if (!b->items[k]) {
			object_batch_release(b);
			return -ENOMEM;
		}
	}
	return 0;
}

void object_batch_release(struct object_batch *b)
{
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		cJSON_Delete(b->items[k]);
		b->items[k] = NULL;
	}
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

/* Where cJSON stopped in text (of len bytes) when it failed. */
static size_t parse_error_offset(const char *text, size_t len, const char *end)
{
	if (!end || end < text || end > text + len)
		end = cJSON_GetErrorPtr();
	if (!end || end < text || end > text + len)
		end = text + len;
	return (size_t)(end - text);
}

/* discovery.k8s.io/v1beta1 slices have other fields (topology, no nodeName): refuse them loudly. */
static bool supported_version(const cJSON *obj, enum k8s_kind kind, const char *origin)
{
	const char *api = k8s_string(obj, "apiVersion");

	if (kind != K8S_ENDPOINTSLICE || !api || strcmp(api, "discovery.k8s.io/v1") == 0)
		return true;
	pr_warn("%s: EndpointSlice %s/%s: apiVersion %s is not supported (discovery.k8s.io/v1 is)", origin,
		k8s_namespace(obj), k8s_name(obj), api);
	return false;
}

/* Detach item from its parent (may be NULL) and file it under kind. */
static void take(struct object_batch *b, cJSON *parent, cJSON *item, enum k8s_kind kind)
{
	if (parent)
		item = cJSON_DetachItemViaPointer(parent, item);
	cJSON_AddItemToArray(b->items[kind], item);
}

/*
 * The kind items[index] goes under: its own, else implied (-1: none). *kind is
 * -1 for kinds and versions the daemon does not read. -EINVAL (logged) for an
 * item that is not an object or names no kind.
 */
static int item_kind(const cJSON *item, int implied, size_t index, const char *origin, int *kind)
{
	const char *kind_name = k8s_string(item, "kind");

	*kind = kind_name ? k8s_kind_parse(kind_name) : implied;
	if (!cJSON_IsObject(item)) {
		pr_err("%s: items[%zu] is not an object", origin, index);
		return -EINVAL;
	}
	if (!kind_name && implied < 0) {
		pr_err("%s: items[%zu] has no kind", origin, index);
		return -EINVAL;
	}
	if (*kind < 0)
		pr_debug("%s: items[%zu]: ignoring kind %s", origin, index, kind_name);
	else if (!supported_version(item, *kind, origin))
		*kind = -1;
	return 0;
}

static int parse_items(cJSON *list, int implied, const char *origin, struct object_batch *b)
{
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	cJSON *item, *next;
	size_t i = 0;

	if (!items || cJSON_IsNull(items))
		return 0;
	if (!cJSON_IsArray(items)) {
		pr_err("%s: items is not a list", origin);
		return -EINVAL;
	}
	for (item = items->child; item; item = next, i++) {
		int kind, err = item_kind(item, implied, i, origin, &kind);

		next = item->next;
		if (err)
			return err;
		if (kind >= 0)
			take(b, items, item, kind);
	}
	return 0;
}

/* What a document's top-level kind makes of it. */
enum document_shape {
	DOCUMENT_LIST, /* a List or typed list: its items are the objects */
	DOCUMENT_OBJECT, /* one object of a kind the daemon reads */
	DOCUMENT_IGNORED, /* one object of another kind */
};

static int document_shape(const cJSON *doc, const char *origin, int *kind)
{
	const char *kind_name = k8s_string(doc, "kind");

	if (!cJSON_IsObject(doc) || !kind_name) {
		pr_err("%s: not a Kubernetes object or list: no kind at the top level", origin);
		return -EINVAL;
	}
	if (strcmp(kind_name, "List") == 0) {
		*kind = -1;
		return DOCUMENT_LIST;
	}
	if ((*kind = k8s_list_kind_parse(kind_name)) >= 0)
		return DOCUMENT_LIST;
	if ((*kind = k8s_kind_parse(kind_name)) >= 0)
		return DOCUMENT_OBJECT;
	pr_warn("%s: ignoring a document of kind %s", origin, kind_name);
	return DOCUMENT_IGNORED;
}

int object_list_parse(const char *text, size_t len, const char *origin, struct object_batch *b)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	int kind, shape, err = 0;

	if (!doc) {
		object_list_report_invalid(origin, text, parse_error_offset(text, len, end), -1, NULL);
		return -EINVAL;
	}
	/* cJSON stops after the first value: whatever follows is a mistake (a second document, a truncated edit). */
	while (end < text + len && (unsigned char)*end <= ' ')
		end++;
	if (end < text + len) {
		object_list_report_invalid(origin, text, (size_t)(end - text), -1,
					   "something follows the end of the document");
		err = -EINVAL;
		goto out;
	}
	shape = document_shape(doc, origin, &kind);
	if (shape < 0) {
		err = shape;
	} else if (shape == DOCUMENT_LIST) {
		err = parse_items(doc, kind, origin, b);
	} else if (shape == DOCUMENT_OBJECT && supported_version(doc, kind, origin)) {
		take(b, NULL, doc, kind);
		doc = NULL;
	}
out:
	cJSON_Delete(doc);
	return err;
}

int object_list_header(const char *text, size_t len, const struct json_list *list, const char *origin, int *implied)
{
	size_t tail = list->offset + list->len, skeleton_len = list->offset + 2 + (len - tail);
	char *skeleton = malloc(skeleton_len);
	const char *end = NULL, *kind_name;
	int is_list = 1;
	cJSON *doc;

	if (!skeleton)
		return -ENOMEM;
	memcpy(skeleton, text, list->offset);
	skeleton[list->offset] = '[';
	skeleton[list->offset + 1] = ']';
	memcpy(skeleton + list->offset + 2, text + tail, len - tail);
	doc = cJSON_ParseWithLengthOpts(skeleton, skeleton_len, &end, false);
	if (!doc) {
		size_t at = parse_error_offset(skeleton, skeleton_len, end);

		/* Back to the text's offsets: the "[]" stands for the items. */
		if (at >= list->offset + 2)
			at += list->len - 2;
		else if (at > list->offset)
			at = list->offset;
		object_list_report_invalid(origin, text, at, -1, NULL);
		free(skeleton);
		return -EINVAL;
	}
	free(skeleton);
	kind_name = k8s_string(doc, "kind");
	if (kind_name && strcmp(kind_name, "List") == 0)
		*implied = -1;
	else if ((*implied = k8s_list_kind_parse(kind_name)) < 0)
		is_list = 0;
	cJSON_Delete(doc);
	return is_list;
}

int object_list_parse_item(const char *text, const struct json_item *item, size_t index, int implied,
			   const char *origin, cJSON **obj, int *kind)
{
	const char *start = text + item->offset, *end = NULL;
	cJSON *parsed = cJSON_ParseWithLengthOpts(start, item->len, &end, false);
	int err;

	*obj = NULL;
	if (!parsed) {
		object_list_report_invalid(origin, text, item->offset + parse_error_offset(start, item->len, end),
					   (long)index, NULL);
		return -EINVAL;
	}
	/* The scan ends a number or literal at a delimiter, cJSON where its grammar does ("12x"). */
	if (end != start + item->len) {
		object_list_report_invalid(origin, text, (size_t)(end - text), (long)index, NULL);
		cJSON_Delete(parsed);
		return -EINVAL;
	}
	err = item_kind(parsed, implied, index, origin, kind);
	if (err || *kind < 0) {
		cJSON_Delete(parsed);
		return err;
	}
	*obj = parsed;
	return 0;
}
