/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pull reader over JSON text, for the decoders that turn Kubernetes objects
 * into the store's compact form: values are read or skipped in document
 * order, no tree is built, and a string comes back as a view of the text (of
 * a scratch buffer when it has escapes). It accepts exactly the documents
 * cJSON accepts, and reads strings and numbers as cJSON does (a string ends
 * at its first NUL; \u escapes with bad hex digits are U+0000; numbers go
 * through strtod), so a file or an API object means what it meant when the
 * daemon kept cJSON trees; test/fuzz/fuzz_json_reader.c holds the two to it.
 *
 * Every call after a failure fails too: a decoder reads on and checks once.
 */
#ifndef SOCKLB_JSON_READER_H
#define SOCKLB_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>

/* cJSON's limit: containers nested deeper make the document invalid. */
#define JSON_NESTING_LIMIT 1000

enum json_type {
	JSON_NONE, /* no value can start here: the reader has failed */
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* A string read: up to its first NUL, not NUL-terminated; valid until the next read. */
struct json_str {
	const char *p;
	size_t len;
};

struct json_reader {
	const char *text; /* offsets (and errors) are in this text */
	size_t end; /* reading stops here */
	size_t pos;
	unsigned int depth; /* containers open */
	unsigned char fresh[JSON_NESTING_LIMIT / 8 + 1]; /* per depth: nothing read in it yet */
	unsigned char object[JSON_NESTING_LIMIT / 8 + 1]; /* per depth: an object (else an array) */
	int err; /* 0, or the first failure (-EINVAL, -ENOMEM) */
	size_t err_offset;
	const char *err_what;
	char *scratch; /* strings with escapes, decoded */
	size_t scratch_cap;
};

/* Read text[start, end); a reader may be reset with init again, its scratch kept. */
void json_reader_init(struct json_reader *r, const char *text, size_t start, size_t end);
void json_reader_release(struct json_reader *r);

/* The type of the next value (whitespace skipped); JSON_NONE sets the error. */
enum json_type json_peek(struct json_reader *r);
/* Skip the next value, checking it. */
int json_skip(struct json_reader *r);
/* The next value, which must be a string (else an error). */
int json_read_string(struct json_reader *r, struct json_str *out);
/* The next value, which must be a number (else an error). */
int json_read_number(struct json_reader *r, double *out);

/* At a '{': enter it. Then json_next_member() until it returns 0 (the '}' read). */
int json_enter_object(struct json_reader *r);
/* 1 with the member's name, the reader at its value (read or skip it); 0 at the end; negative errno. */
int json_next_member(struct json_reader *r, struct json_str *name);
/* At a '[': enter it. Then json_next_element() until it returns 0 (the ']' read). */
int json_enter_array(struct json_reader *r);
/* 1 with the reader at the next element (read or skip it); 0 at the end; negative errno. */
int json_next_element(struct json_reader *r);

/* Where the reader is: to come back to a value it skipped (so checked) and read it after all. */
struct json_mark {
	size_t pos;
	unsigned int depth;
};

struct json_mark json_tell(struct json_reader *r);
void json_seek(struct json_reader *r, struct json_mark m);

/* Nothing but whitespace up to the end: the document is whole. */
int json_expect_end(struct json_reader *r);

/* Fail now (a decoder's own check), unless failed already: returns the error. */
int json_fail(struct json_reader *r, const char *what);

static inline bool json_str_is(const struct json_str *s, const char *lit, size_t lit_len)
{
	return s->len == lit_len && __builtin_memcmp(s->p, lit, lit_len) == 0;
}

/* json_str_is with a string literal. */
#define JSON_STR_IS(s, lit) json_str_is((s), lit, sizeof(lit) - 1)

#endif /* SOCKLB_JSON_READER_H */
