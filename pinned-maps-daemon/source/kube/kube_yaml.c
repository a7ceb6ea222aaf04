// SPDX-License-Identifier: Apache-2.0
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "kube_yaml.h"

struct conversion {
	yaml_document_t *doc;
	size_t nodes;
	char *why;
	size_t why_len;
};

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

/* JSON's number syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static cJSON *scalar(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL };
	const char *s = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(s);
	if (one_of(s, nulls))
		return cJSON_CreateNull();
	if (one_of(s, trues))
		return cJSON_CreateTrue();
	if (one_of(s, falses))
		return cJSON_CreateFalse();
	if (is_json_number(s))
		return cJSON_CreateRaw(s);
	return cJSON_CreateString(s);
}

static cJSON *convert(struct conversion *cv, int index, unsigned int depth);

static cJSON *mapping(struct conversion *cv, const yaml_node_t *n, unsigned int depth)
{
	cJSON *obj = cJSON_CreateObject();

	if (!obj)
		return NULL;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		const yaml_node_t *key = yaml_document_get_node(cv->doc, pair->key);
		cJSON *value;

		if (!key || key->type != YAML_SCALAR_NODE) {
			snprintf(cv->why, cv->why_len, "a mapping key at line %zu is not a scalar",
				 key ? key->start_mark.line + 1 : n->start_mark.line + 1);
			goto fail;
		}
		value = convert(cv, pair->value, depth + 1);
		if (!value)
			goto fail;
		if (!cJSON_AddItemToObject(obj, (const char *)key->data.scalar.value, value)) {
			cJSON_Delete(value);
			goto fail;
		}
	}
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *sequence(struct conversion *cv, const yaml_node_t *n, unsigned int depth)
{
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top; item++) {
		cJSON *value = convert(cv, *item, depth + 1);

		if (!value || !cJSON_AddItemToArray(arr, value)) {
			cJSON_Delete(value);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *convert(struct conversion *cv, int index, unsigned int depth)
{
	const yaml_node_t *n = yaml_document_get_node(cv->doc, index);
	cJSON *out = NULL;

	if (!n) {
		snprintf(cv->why, cv->why_len, "a node of the document is missing");
		return NULL;
	}
	/* an alias is the node it names again: a cycle or a bomb only shows as depth or size */
	if (depth > KUBE_YAML_MAX_DEPTH || ++cv->nodes > KUBE_YAML_MAX_NODES) {
		if (depth > KUBE_YAML_MAX_DEPTH)
			snprintf(cv->why, cv->why_len, "the document nests deeper than %d levels at line %zu",
				 KUBE_YAML_MAX_DEPTH, n->start_mark.line + 1);
		else
			snprintf(cv->why, cv->why_len, "the document expands to more than %d nodes (aliases)",
				 KUBE_YAML_MAX_NODES);
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		out = scalar(n);
		break;
	case YAML_MAPPING_NODE:
		return mapping(cv, n, depth);
	case YAML_SEQUENCE_NODE:
		return sequence(cv, n, depth);
	default:
		snprintf(cv->why, cv->why_len, "a node at line %zu has no type", n->start_mark.line + 1);
		return NULL;
	}
	if (!out)
		snprintf(cv->why, cv->why_len, "out of memory");
	return out;
}

static void syntax_error(const yaml_parser_t *p, char *why, size_t why_len)
{
	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(why, why_len, "out of memory");
		return;
	}
	snprintf(why, why_len, "invalid YAML at line %zu, column %zu: %s%s%s", p->problem_mark.line + 1,
		 p->problem_mark.column + 1, p->context ? p->context : "", p->context ? ": " : "",
		 p->problem ? p->problem : "unknown error");
}

cJSON *kube_yaml_parse(const char *text, size_t len, char *why, size_t why_len)
{
	struct conversion cv = { .why = why, .why_len = why_len };
	yaml_document_t doc, next;
	yaml_parser_t parser;
	cJSON *root = NULL;

	why[0] = '\0';
	if (!yaml_parser_initialize(&parser)) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&parser, why, why_len);
		goto out_parser;
	}
	if (!yaml_document_get_root_node(&doc)) {
		snprintf(why, why_len, "the document is empty");
		goto out_doc;
	}
	/* the rest must parse too, and hold nothing: a second document is a mistake, not a spare */
	if (!yaml_parser_load(&parser, &next)) {
		syntax_error(&parser, why, why_len);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&next)) {
		snprintf(why, why_len, "more than one YAML document (the second starts at line %zu)",
			 next.start_mark.line + 1);
		yaml_document_delete(&next);
		goto out_doc;
	}
	yaml_document_delete(&next);
	cv.doc = &doc;
	root = convert(&cv, 1, 0);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return root;
}
