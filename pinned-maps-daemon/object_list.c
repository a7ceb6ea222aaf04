// SPDX-License-Identifier: Apache-2.0
#include "object_list.h"

#include <errno.h>
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

static void error_position(const char *text, const char *at, size_t *line, size_t *column)
{
	*line = 1;
	*column = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
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
		const char *kind_name = k8s_string(item, "kind");
		int kind = kind_name ? k8s_kind_parse(kind_name) : implied;

		next = item->next;
		if (!cJSON_IsObject(item)) {
			pr_err("%s: items[%zu] is not an object", origin, i);
			return -EINVAL;
		}
		if (!kind_name && implied < 0) {
			pr_err("%s: items[%zu] has no kind", origin, i);
			return -EINVAL;
		}
		if (kind < 0) {
			pr_debug("%s: items[%zu]: ignoring kind %s", origin, i, kind_name);
			continue;
		}
		if (supported_version(item, kind, origin))
			take(b, items, item, kind);
	}
	return 0;
}

int object_list_parse(const char *text, size_t len, const char *origin, struct object_batch *b)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	const char *kind_name;
	int kind, err = 0;

	if (!doc) {
		size_t line, column;

		if (!end || end < text || end > text + len)
			end = cJSON_GetErrorPtr();
		if (!end || end < text || end > text + len)
			end = text + len;
		error_position(text, end, &line, &column);
		pr_err("%s: invalid JSON at line %zu, column %zu (byte %zu)", origin, line, column,
		       (size_t)(end - text));
		return -EINVAL;
	}
	kind_name = k8s_string(doc, "kind");
	if (!cJSON_IsObject(doc) || !kind_name) {
		pr_err("%s: not a Kubernetes object or list: no kind at the top level", origin);
		err = -EINVAL;
		goto out;
	}
	if (strcmp(kind_name, "List") == 0) {
		err = parse_items(doc, -1, origin, b);
	} else if ((kind = k8s_list_kind_parse(kind_name)) >= 0) {
		err = parse_items(doc, kind, origin, b);
	} else if ((kind = k8s_kind_parse(kind_name)) >= 0) {
		if (supported_version(doc, kind, origin)) {
			take(b, NULL, doc, kind);
			doc = NULL;
		}
	} else {
		pr_warn("%s: ignoring a document of kind %s", origin, kind_name);
	}
out:
	cJSON_Delete(doc);
	return err;
}
