// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's JSON pull reader against cJSON, the parser it replaced for
 * Kubernetes objects (and still uses for kubeconfig and CNI config): every
 * input is accepted by both or by neither (one document, whitespace after
 * it, a byte order mark where cJSON skips one), and an accepted one reads the
 * same through both: the same members in the same order, the same strings
 * (up to their first NUL, as cJSON's are C strings), the same numbers to the
 * bit, the same literals.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "json_reader.h"

/* The string s must be what cJSON made of it. */
static void same_string(const struct json_str *s, const char *theirs)
{
	if (!theirs || strlen(theirs) != s->len || memcmp(theirs, s->p, s->len) != 0)
		abort();
}

/* Read the value at r and compare it with cJSON's item, recursively. */
static void same_value(struct json_reader *r, const cJSON *item)
{
	struct json_str s;
	const cJSON *child;
	double v;

	switch (json_peek(r)) {
	case JSON_NULL:
	case JSON_TRUE:
	case JSON_FALSE:
		if (json_peek(r) != (cJSON_IsNull(item)	  ? JSON_NULL
				     : cJSON_IsTrue(item) ? JSON_TRUE
							  : JSON_FALSE) ||
		    !(cJSON_IsNull(item) || cJSON_IsBool(item)) || json_skip(r))
			abort();
		return;
	case JSON_NUMBER:
		/* The same double, -0 apart from 0 (JSON has no NaN). */
		if (!cJSON_IsNumber(item) || json_read_number(r, &v) || v != item->valuedouble ||
		    signbit(v) != signbit(item->valuedouble))
			abort();
		return;
	case JSON_STRING:
		if (!cJSON_IsString(item) || json_read_string(r, &s))
			abort();
		same_string(&s, item->valuestring);
		return;
	case JSON_ARRAY:
		if (!cJSON_IsArray(item) || json_enter_array(r))
			abort();
		child = item->child;
		while (json_next_element(r) == 1) {
			if (!child)
				abort();
			same_value(r, child);
			child = child->next;
		}
		if (child || r->err)
			abort();
		return;
	case JSON_OBJECT:
		if (!cJSON_IsObject(item) || json_enter_object(r))
			abort();
		child = item->child;
		while (json_next_member(r, &s) == 1) {
			if (!child)
				abort();
			same_string(&s, child->string);
			same_value(r, child);
			child = child->next;
		}
		if (child || r->err)
			abort();
		return;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = NULL;
	size_t start = size > 4 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	struct json_reader r = { 0 };
	cJSON *doc = cJSON_ParseWithLengthOpts(text, size, &end, false);
	bool theirs, ours;

	/* As the file source takes a document: nothing but whitespace after it. */
	while (doc && end < text + size && (unsigned char)*end <= ' ')
		end++;
	theirs = doc && end == text + size;
	json_reader_init(&r, text, start, size);
	ours = json_skip(&r) == 0 && json_expect_end(&r) == 0;
	if (theirs != ours)
		abort();
	if (ours) {
		json_reader_init(&r, text, start, size);
		same_value(&r, doc);
		if (json_expect_end(&r))
			abort();
	}
	json_reader_release(&r);
	cJSON_Delete(doc);
	return 0;
}
