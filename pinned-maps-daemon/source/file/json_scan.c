// SPDX-License-Identifier: Apache-2.0
#include "json_scan.h"
#include "json_bytes.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scanner {
	const unsigned char *text;
	size_t len;
	size_t pos;
	long item; /* the item being scanned; -1 outside the items */
	unsigned int depth; /* containers open */
	unsigned char open[CJSON_NESTING_LIMIT]; /* their opening brackets */
	struct json_scan_error *err;
};

/* Bytes that open, close or quote something, the only ones that matter inside an item. */
static const bool structural[256] = { ['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true };
/* Bytes that end a number or literal (besides whitespace). */
static const bool delimiter[256] = {
	[','] = true, [':'] = true, ['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true
};

__attribute__((format(printf, 3, 4))) static int fail(struct scanner *s, size_t offset, const char *fmt, ...)
{
	va_list ap;

	s->err->offset = offset;
	s->err->item = s->item;
	va_start(ap, fmt);
	vsnprintf(s->err->what, sizeof(s->err->what), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_at_end(struct scanner *s)
{
	return fail(s, s->len, "the document ends early");
}

/* cJSON takes every byte up to the space as whitespace, so does the scan. */
static void skip_whitespace(struct scanner *s)
{
	while (s->pos < s->len && s->text[s->pos] <= ' ')
		s->pos++;
}

/* At a '"': past the closing one. A backslash escapes the next byte, as cJSON reads it. */
static int skip_string(struct scanner *s)
{
	size_t start = s->pos++;

	for (;;) {
		s->pos = json_find_quote_or_escape(s->text, s->pos, s->len);
		if (s->pos >= s->len)
			return fail(s, start, "unterminated string");
		if (s->text[s->pos] == '"') {
			s->pos++;
			return 0;
		}
		s->pos += 2;
	}
}

static int push(struct scanner *s)
{
	if (s->depth == CJSON_NESTING_LIMIT)
		return fail(s, s->pos, "nested more than %d deep", CJSON_NESTING_LIMIT);
	s->open[s->depth++] = s->text[s->pos++];
	return 0;
}

static int pop(struct scanner *s)
{
	unsigned char want = s->open[s->depth - 1] == '{' ? '}' : ']';

	if (s->text[s->pos] != want)
		return fail(s, s->pos, "'%c' where '%c' was expected", s->text[s->pos], want);
	s->depth--;
	s->pos++;
	return 0;
}

/* At a '{' or '[': past its match, minding only strings and brackets (cJSON checks the rest). */
static int skip_container(struct scanner *s)
{
	unsigned int outside = s->depth;
	int err = push(s);

	while (!err && s->depth > outside) {
		while (s->pos < s->len && !structural[s->text[s->pos]])
			s->pos++;
		if (s->pos == s->len)
			return fail_at_end(s);
		switch (s->text[s->pos]) {
		case '"':
			err = skip_string(s);
			break;
		case '{':
		case '[':
			err = push(s);
			break;
		default:
			err = pop(s);
		}
	}
	return err;
}

static int skip_value(struct scanner *s)
{
	size_t start = s->pos;

	if (s->pos >= s->len)
		return fail_at_end(s);
	switch (s->text[s->pos]) {
	case '"':
		return skip_string(s);
	case '{':
	case '[':
		return skip_container(s);
	}
	/* A number or true, false, null; cJSON reads one only from a byte that can begin one. */
	if (!strchr("-0123456789tfn", s->text[s->pos]) || !s->text[s->pos])
		return fail(s, start, "a value was expected");
	while (s->pos < s->len && s->text[s->pos] > ' ' && !delimiter[s->text[s->pos]])
		s->pos++;
	return 0;
}

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

/* Two independent lanes of eight bytes each: the multiplications overlap, so hashing keeps up with the scan. */
static uint64_t hash_bytes(const unsigned char *p, size_t len)
{
	const uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0x94d049bb133111ebULL;
	uint64_t h1 = len ^ k1, h2 = len ^ k2, tail[2] = { 0, 0 };
	size_t i = 0;

	for (; i + 16 <= len; i += 16) {
		h1 = rotl64(h1 ^ mix64(json_load64(p + i)), 27) * k1;
		h2 = rotl64(h2 ^ mix64(json_load64(p + i + 8)), 31) * k2;
	}
	memcpy(tail, p + i, len - i);
	h1 = rotl64(h1 ^ mix64(tail[0]), 27) * k1;
	h2 = rotl64(h2 ^ mix64(tail[1]), 31) * k2;
	return mix64(h1 ^ rotl64(h2, 32)) * k1;
}

static int add_item(struct json_list *list, const unsigned char *text, size_t offset, size_t len)
{
	if (list->n_items == list->cap_items) {
		size_t cap = list->cap_items ? list->cap_items * 2 : 1024;
		struct json_item *items = realloc(list->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		list->items = items;
		list->cap_items = cap;
	}
	list->items[list->n_items++] =
		(struct json_item){ .offset = offset, .len = len, .hash = hash_bytes(text + offset, len) };
	return 0;
}

/* At the '[' of the items: every item's place and hash. */
static int scan_items(struct scanner *s, struct json_list *list)
{
	int err;

	list->offset = s->pos;
	err = push(s);
	skip_whitespace(s);
	if (!err && s->pos < s->len && s->text[s->pos] == ']')
		err = pop(s);
	else
		for (;;) {
			size_t start;

			s->item = (long)list->n_items;
			skip_whitespace(s);
			start = s->pos;
			err = skip_value(s);
			if (!err)
				err = add_item(list, s->text, start, s->pos - start);
			s->item = -1;
			if (err)
				return err;
			skip_whitespace(s);
			if (s->pos >= s->len)
				return fail_at_end(s);
			if (s->text[s->pos] == ']') {
				err = pop(s);
				break;
			}
			if (s->text[s->pos] != ',')
				return fail(s, s->pos, "',' or ']' was expected after items[%zu]", list->n_items - 1);
			s->pos++;
		}
	list->len = s->pos - list->offset;
	list->found = !err;
	return err;
}

/*
 * At the '{' of the document. The items are the value of the first member
 * named "items", as cJSON finds it; a name written with escapes, or holding a
 * raw NUL (cJSON compares names as C strings), might be that one too, so after
 * one the document is left to cJSON whole.
 */
static int scan_object(struct scanner *s, struct json_list *list)
{
	bool settled = false; /* which member holds the items is known */
	int err = push(s);

	skip_whitespace(s);
	if (!err && s->pos < s->len && s->text[s->pos] == '}')
		return pop(s);
	while (!err) {
		size_t name;
		bool items;

		skip_whitespace(s);
		if (s->pos >= s->len)
			return fail_at_end(s);
		if (s->text[s->pos] != '"')
			return fail(s, s->pos, "a member name was expected");
		name = s->pos;
		err = skip_string(s);
		if (err)
			return err;
		items = !settled && s->pos - name == 7 && memcmp(s->text + name, "\"items\"", 7) == 0;
		settled |= items || memchr(s->text + name, '\\', s->pos - name) ||
			   memchr(s->text + name, '\0', s->pos - name);
		skip_whitespace(s);
		if (s->pos >= s->len || s->text[s->pos] != ':')
			return fail(s, s->pos, "':' was expected after a member name");
		s->pos++;
		skip_whitespace(s);
		if (items && s->pos < s->len && s->text[s->pos] == '[')
			err = scan_items(s, list);
		else
			err = skip_value(s);
		if (err)
			return err;
		skip_whitespace(s);
		if (s->pos >= s->len)
			return fail_at_end(s);
		if (s->text[s->pos] == '}')
			return pop(s);
		if (s->text[s->pos] != ',')
			return fail(s, s->pos, "',' or '}' was expected after a member");
		s->pos++;
	}
	return err;
}

int json_scan_list(const char *text, size_t len, struct json_list *list, struct json_scan_error *err)
{
	struct scanner s = { .text = (const unsigned char *)text, .len = len, .item = -1, .err = err };
	struct json_item *items = list->items;
	size_t cap = list->cap_items;
	int ret;

	memset(list, 0, sizeof(*list));
	list->items = items;
	list->cap_items = cap;
	/* A UTF-8 byte order mark is skipped where cJSON skips it. */
	if (len > 4 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		s.pos = 3;
	skip_whitespace(&s);
	if (s.pos >= len)
		ret = fail(&s, s.pos, "the document is empty");
	else if (s.text[s.pos] == '{')
		ret = scan_object(&s, list);
	else
		ret = skip_value(&s);
	if (!ret) {
		skip_whitespace(&s);
		if (s.pos < len)
			ret = fail(&s, s.pos, "something follows the end of the document");
	}
	if (ret)
		json_list_release(list);
	return ret;
}

void json_list_release(struct json_list *list)
{
	free(list->items);
	memset(list, 0, sizeof(*list));
}
