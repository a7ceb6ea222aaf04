// SPDX-License-Identifier: Apache-2.0
#include "json_reader.h"
#include "json_bytes.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void json_reader_init(struct json_reader *r, const char *text, size_t start, size_t end)
{
	char *scratch = r->scratch;
	size_t cap = r->scratch_cap;

	memset(r, 0, sizeof(*r));
	r->text = text;
	r->pos = start;
	r->end = end;
	r->scratch = scratch;
	r->scratch_cap = cap;
}

void json_reader_release(struct json_reader *r)
{
	free(r->scratch);
	r->scratch = NULL;
	r->scratch_cap = 0;
}

static int fail_at(struct json_reader *r, size_t offset, const char *what)
{
	if (!r->err) {
		r->err = -EINVAL;
		r->err_offset = offset;
		r->err_what = what;
	}
	return r->err;
}

int json_fail(struct json_reader *r, const char *what)
{
	return fail_at(r, r->pos, what);
}

static int fail_at_end(struct json_reader *r)
{
	return fail_at(r, r->end, "the document ends early");
}

static const unsigned char *bytes(const struct json_reader *r)
{
	return (const unsigned char *)r->text;
}

/* cJSON takes every byte up to the space as whitespace. */
static void skip_whitespace(struct json_reader *r)
{
	const unsigned char *t = bytes(r);

	while (r->pos < r->end && t[r->pos] <= ' ')
		r->pos++;
}

static bool bit(const unsigned char *set, unsigned int i)
{
	return set[i / 8] & (1u << (i % 8));
}

static void set_bit(unsigned char *set, unsigned int i, bool on)
{
	if (on)
		set[i / 8] |= (unsigned char)(1u << (i % 8));
	else
		set[i / 8] &= (unsigned char)~(1u << (i % 8));
}

/* ---- strings ------------------------------------------------------------- */

/* At a '"': where the closing one is (a backslash escapes the next byte); *escaped when it has escapes. */
static int string_end(struct json_reader *r, size_t *close, bool *escaped)
{
	size_t pos = r->pos + 1;

	*escaped = false;
	for (;;) {
		pos = json_find_quote_or_escape(bytes(r), pos, r->end);
		if (pos >= r->end)
			return fail_at(r, r->pos, "unterminated string");
		if (bytes(r)[pos] == '"')
			break;
		if (pos + 1 >= r->end)
			return fail_at(r, r->pos, "unterminated string");
		*escaped = true;
		pos += 2;
	}
	*close = pos;
	return 0;
}

static unsigned int hex4(const unsigned char *p)
{
	unsigned int h = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			h = h * 16 + (c - '0');
		else if (c >= 'A' && c <= 'F')
			h = h * 16 + 10 + (c - 'A');
		else if (c >= 'a' && c <= 'f')
			h = h * 16 + 10 + (c - 'a');
		else
			return 0; /* as cJSON: a bad digit makes the whole escape U+0000 */
	}
	return h;
}

/*
 * One \u escape (or surrogate pair) at p, before end (the closing quote):
 * the bytes it spans, 0 when invalid; its UTF-8 into *out when out is set.
 */
static size_t utf16_escape(const unsigned char *p, const unsigned char *end, unsigned char **out)
{
	unsigned long code;
	unsigned int first, second;
	size_t span = 6, n;

	if (end - p < 6)
		return 0;
	first = hex4(p + 2);
	if (first >= 0xDC00 && first <= 0xDFFF)
		return 0;
	code = first;
	if (first >= 0xD800 && first <= 0xDBFF) {
		if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
			return 0;
		second = hex4(p + 8);
		if (second < 0xDC00 || second > 0xDFFF)
			return 0;
		code = 0x10000 + (((first & 0x3FF) << 10) | (second & 0x3FF));
		span = 12;
	}
	if (!out)
		return span;
	n = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
	for (size_t i = n - 1; i > 0; i--) {
		(*out)[i] = (unsigned char)((code & 0x3F) | 0x80);
		code >>= 6;
	}
	(*out)[0] = (unsigned char)(n == 1 ? code : code | (n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0));
	*out += n;
	return span;
}

/* The escapes of the string between p and end (its closing quote), decoded into out when out is set. */
static int unescape(const unsigned char *p, const unsigned char *end, unsigned char *out, size_t *len)
{
	unsigned char *o = out;

	while (p < end) {
		size_t span = 2;
		unsigned char c;

		if (*p != '\\') {
			if (o)
				*o++ = *p;
			p++;
			continue;
		}
		switch (p[1]) {
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case '"':
		case '\\':
		case '/':
			c = p[1];
			break;
		case 'u':
			span = utf16_escape(p, end, o ? &o : NULL);
			if (!span)
				return -EINVAL;
			p += span;
			continue;
		default:
			return -EINVAL;
		}
		if (o)
			*o++ = c;
		p += span;
	}
	if (len)
		*len = (size_t)(o - out);
	return 0;
}

static int skip_string(struct json_reader *r)
{
	size_t close;
	bool escaped;

	if (string_end(r, &close, &escaped))
		return r->err;
	if (escaped && unescape(bytes(r) + r->pos + 1, bytes(r) + close, NULL, NULL))
		return fail_at(r, r->pos, "bad escape in a string");
	r->pos = close + 1;
	return 0;
}

static int read_string(struct json_reader *r, struct json_str *out)
{
	const unsigned char *start = bytes(r) + r->pos + 1;
	size_t close, len;
	bool escaped;
	char *nul;

	if (string_end(r, &close, &escaped))
		return r->err;
	len = close - (r->pos + 1);
	if (!escaped) {
		out->p = (const char *)start;
	} else {
		if (r->scratch_cap < len + 1) {
			char *grown = realloc(r->scratch, len + 1);

			if (!grown) {
				r->err = -ENOMEM;
				return r->err;
			}
			r->scratch = grown;
			r->scratch_cap = len + 1;
		}
		if (unescape(start, bytes(r) + close, (unsigned char *)r->scratch, &len))
			return fail_at(r, r->pos, "bad escape in a string");
		out->p = r->scratch;
	}
	/* A C string, as cJSON's: it ends at its first NUL. */
	nul = memchr(out->p, '\0', len);
	out->len = nul ? (size_t)(nul - out->p) : len;
	r->pos = close + 1;
	return 0;
}

/* ---- numbers and literals ------------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t digits(const unsigned char *t, size_t pos, size_t end)
{
	size_t start = pos;

	while (pos < end && is_digit(t[pos]))
		pos++;
	return pos - start;
}

/*
 * cJSON hands strtod the run of [0-9+-.eE] at a '-' or digit and takes what
 * strtod reads of it: an optional '-', digits with an optional fraction (or a
 * fraction alone: "-.5"), an exponent only when it has digits. 0 when strtod
 * would read nothing.
 */
static size_t number_len(const struct json_reader *r)
{
	const unsigned char *t = bytes(r);
	size_t pos = r->pos, n_int, n_frac = 0, n;

	if (pos < r->end && t[pos] == '-')
		pos++;
	n_int = digits(t, pos, r->end);
	pos += n_int;
	if (pos < r->end && t[pos] == '.') {
		n_frac = digits(t, pos + 1, r->end);
		if (n_int || n_frac)
			pos += 1 + n_frac;
	}
	if (!n_int && !n_frac)
		return 0;
	if (pos < r->end && (t[pos] == 'e' || t[pos] == 'E')) {
		size_t e = pos + 1;

		if (e < r->end && (t[e] == '+' || t[e] == '-'))
			e++;
		n = digits(t, e, r->end);
		if (n)
			pos = e + n;
	}
	return pos - r->pos;
}

static int read_number(struct json_reader *r, double *out)
{
	size_t len = number_len(r);
	const unsigned char *t = bytes(r) + r->pos;
	char buf[64], *copy = buf;

	if (!len)
		return fail_at(r, r->pos, "a value was expected");
	if (out) {
		/* Plain digits are exact in a double up to 15 of them: the common case needs no strtod. */
		if (len <= 15 && digits(t, 0, len) == len) {
			unsigned long long v = 0;

			for (size_t i = 0; i < len; i++)
				v = v * 10 + (t[i] - '0');
			*out = (double)v;
		} else {
			if (len >= sizeof(buf)) {
				copy = malloc(len + 1);
				if (!copy) {
					r->err = -ENOMEM;
					return r->err;
				}
			}
			memcpy(copy, t, len);
			copy[len] = '\0';
			*out = strtod(copy, NULL);
			if (copy != buf)
				free(copy);
		}
	}
	r->pos += len;
	return 0;
}

static int skip_literal(struct json_reader *r, const char *lit, size_t len)
{
	if (r->end - r->pos < len || memcmp(r->text + r->pos, lit, len) != 0)
		return fail_at(r, r->pos, "a value was expected");
	r->pos += len;
	return 0;
}

/* ---- values ---------------------------------------------------------------- */

enum json_type json_peek(struct json_reader *r)
{
	unsigned char c;

	if (r->err)
		return JSON_NONE;
	skip_whitespace(r);
	if (r->pos >= r->end) {
		fail_at_end(r);
		return JSON_NONE;
	}
	c = bytes(r)[r->pos];
	switch (c) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 'n':
		return JSON_NULL;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	default:
		if (c == '-' || is_digit(c))
			return JSON_NUMBER;
		fail_at(r, r->pos, "a value was expected");
		return JSON_NONE;
	}
}

/* At '{' or '[': one level deeper. */
static int enter(struct json_reader *r, bool object)
{
	if (r->depth >= JSON_NESTING_LIMIT)
		return fail_at(r, r->pos, "nested more than 1000 deep");
	r->depth++;
	set_bit(r->fresh, r->depth, true);
	set_bit(r->object, r->depth, object);
	r->pos++;
	return 0;
}

int json_enter_object(struct json_reader *r)
{
	if (json_peek(r) != JSON_OBJECT)
		return r->err ? r->err : fail_at(r, r->pos, "an object was expected");
	return enter(r, true);
}

int json_enter_array(struct json_reader *r)
{
	if (json_peek(r) != JSON_ARRAY)
		return r->err ? r->err : fail_at(r, r->pos, "a list was expected");
	return enter(r, false);
}

/* At a member name: read it, and the ':' after it. */
static int member_name(struct json_reader *r, struct json_str *name)
{
	int err;

	skip_whitespace(r);
	if (r->pos >= r->end)
		return fail_at_end(r);
	if (bytes(r)[r->pos] != '"')
		return fail_at(r, r->pos, "a member name was expected");
	err = name ? read_string(r, name) : skip_string(r);
	if (err)
		return err;
	skip_whitespace(r);
	if (r->pos >= r->end)
		return fail_at_end(r);
	if (bytes(r)[r->pos] != ':')
		return fail_at(r, r->pos, "':' was expected after a member name");
	r->pos++;
	return 0;
}

/*
 * After a value in the container at r->depth: 1 when another member or
 * element follows (the ',' read), 0 when the container ended (its bracket
 * read, one level up).
 */
static int next_in_container(struct json_reader *r)
{
	bool object = bit(r->object, r->depth);
	unsigned char c;

	skip_whitespace(r);
	if (r->pos >= r->end)
		return fail_at_end(r);
	c = bytes(r)[r->pos];
	if (bit(r->fresh, r->depth)) {
		set_bit(r->fresh, r->depth, false);
		if (c != (object ? '}' : ']'))
			return 1;
	} else if (c == ',') {
		r->pos++;
		return 1;
	} else if (c != (object ? '}' : ']')) {
		return fail_at(r, r->pos,
			       object ? "',' or '}' was expected after a member"
				      : "',' or ']' was expected after an element");
	}
	r->pos++;
	r->depth--;
	return 0;
}

int json_next_member(struct json_reader *r, struct json_str *name)
{
	int ret;

	if (r->err)
		return r->err;
	ret = next_in_container(r);
	if (ret == 1 && member_name(r, name))
		return r->err;
	return ret;
}

int json_next_element(struct json_reader *r)
{
	return r->err ? r->err : next_in_container(r);
}

/* A scalar at pos (its type known): past it. */
static int skip_scalar(struct json_reader *r, enum json_type type)
{
	switch (type) {
	case JSON_STRING:
		return skip_string(r);
	case JSON_NUMBER:
		return read_number(r, NULL);
	case JSON_NULL:
		return skip_literal(r, "null", 4);
	case JSON_TRUE:
		return skip_literal(r, "true", 4);
	case JSON_FALSE:
		return skip_literal(r, "false", 5);
	default:
		return r->err ? r->err : fail_at(r, r->pos, "a value was expected");
	}
}

/* Containers without recursion: the reader's depth is the stack. */
int json_skip(struct json_reader *r)
{
	unsigned int outside = r->depth;
	enum json_type type;
	int ret;

	for (;;) {
		type = json_peek(r);
		if (type == JSON_OBJECT || type == JSON_ARRAY) {
			if (enter(r, type == JSON_OBJECT))
				return r->err;
		} else if (skip_scalar(r, type)) {
			return r->err;
		}
		/* Up through every container that ends here, to the next value to skip. */
		while (r->depth > outside) {
			ret = next_in_container(r);
			if (ret < 0)
				return ret;
			if (ret == 1) {
				if (bit(r->object, r->depth) && member_name(r, NULL))
					return r->err;
				break;
			}
		}
		if (r->depth == outside)
			return 0;
	}
}

int json_read_string(struct json_reader *r, struct json_str *out)
{
	enum json_type type = json_peek(r);

	if (type != JSON_STRING)
		return r->err ? r->err : fail_at(r, r->pos, "a string was expected");
	return read_string(r, out);
}

int json_read_number(struct json_reader *r, double *out)
{
	enum json_type type = json_peek(r);

	if (type != JSON_NUMBER)
		return r->err ? r->err : fail_at(r, r->pos, "a number was expected");
	return read_number(r, out);
}

int json_expect_end(struct json_reader *r)
{
	if (r->err)
		return r->err;
	skip_whitespace(r);
	if (r->pos < r->end)
		return fail_at(r, r->pos, "something follows the end of the document");
	return 0;
}

struct json_mark json_tell(struct json_reader *r)
{
	skip_whitespace(r);
	return (struct json_mark){ .pos = r->pos, .depth = r->depth };
}

void json_seek(struct json_reader *r, struct json_mark m)
{
	r->pos = m.pos;
	r->depth = m.depth;
}
