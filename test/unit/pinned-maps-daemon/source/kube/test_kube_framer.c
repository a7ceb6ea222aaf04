// SPDX-License-Identifier: Apache-2.0
/* The watch stream framer: lines come out whole, whatever the pieces the bytes arrive in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube_framer.h"

#define MAX_LINES 16

struct seen {
	char *lines[MAX_LINES];
	size_t n;
	int stop_at; /* return 1 for this line (1-based), 0 = never */
};

static int collect(const char *line, size_t len, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_LINES);
	s->lines[s->n] = strndup(line, len);
	assert_non_null(s->lines[s->n]);
	s->n++;
	return s->stop_at && (int)s->n == s->stop_at ? 1 : 0;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	memset(s, 0, sizeof(*s));
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}\n";

static void assert_three_events(const struct seen *s)
{
	const char *first_end = strchr(stream, '\n');
	const char *second_end = strchr(first_end + 1, '\n');

	assert_int_equal(s->n, 3);
	assert_memory_equal(s->lines[0], stream, first_end - stream);
	assert_int_equal(strlen(s->lines[0]), first_end - stream);
	assert_memory_equal(s->lines[1], first_end + 1, second_end - first_end - 1);
	assert_int_equal(strlen(s->lines[1]), second_end - first_end - 1);
	assert_string_equal(
		s->lines[2],
		"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}");
}

/* Two pieces, cut at every position. */
static void test_every_split_position(void **state)
{
	size_t len = strlen(stream);
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		kube_framer_init(&f, 0);
		assert_int_equal(kube_framer_feed(&f, stream, cut, collect, &s), 0);
		assert_int_equal(kube_framer_feed(&f, stream + cut, len - cut, collect, &s), 0);
		assert_three_events(&s);
		assert_int_equal(kube_framer_pending(&f), 0);
		seen_clear(&s);
		kube_framer_free(&f);
	}
}

/* Three pieces, cut at every pair of positions: an event can span all three. */
static void test_every_pair_of_split_positions(void **state)
{
	size_t len = strlen(stream);
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			assert_int_equal(kube_framer_feed(&f, stream, a, collect, &s), 0);
			assert_int_equal(kube_framer_feed(&f, stream + a, b - a, collect, &s), 0);
			assert_int_equal(kube_framer_feed(&f, stream + b, len - b, collect, &s), 0);
			assert_three_events(&s);
			seen_clear(&s);
		}
	}
	kube_framer_free(&f);
}

static void test_byte_by_byte(void **state)
{
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	for (size_t i = 0; stream[i]; i++)
		assert_int_equal(kube_framer_feed(&f, stream + i, 1, collect, &s), 0);
	assert_three_events(&s);
	seen_clear(&s);
	kube_framer_free(&f);
}

static void test_many_events_in_one_piece(void **state)
{
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, stream, strlen(stream), collect, &s), 0);
	assert_three_events(&s);
	assert_int_equal(kube_framer_pending(&f), 0);
	seen_clear(&s);
	kube_framer_free(&f);
}

/* The end of one event and the start of the next in the same piece. */
static void test_piece_spanning_two_events(void **state)
{
	const char *second = strchr(stream, '\n') + 1;
	size_t len = strlen(stream);
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, stream, 10, collect, &s), 0);
	assert_int_equal(s.n, 0);
	/* from inside the first event to inside the third */
	assert_int_equal(kube_framer_feed(&f, stream + 10, (size_t)(second - stream) + 70 - 10, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(kube_framer_feed(&f, stream + (second - stream) + 70, len - (size_t)(second - stream) - 70,
					  collect, &s),
			 0);
	assert_three_events(&s);
	seen_clear(&s);
	kube_framer_free(&f);
}

static void test_partial_trailing_line(void **state)
{
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, "{\"a\":1}\n{\"b\":", 13, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "{\"a\":1}");
	/* the stream died here: the half event is reported, then forgotten for the next stream */
	assert_int_equal(kube_framer_pending(&f), 5);
	kube_framer_reset(&f);
	assert_int_equal(kube_framer_pending(&f), 0);
	assert_int_equal(kube_framer_feed(&f, "{\"c\":3}\n", 8, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[1], "{\"c\":3}");
	seen_clear(&s);
	kube_framer_free(&f);
}

static void test_blank_lines_and_crlf(void **state)
{
	const char *in = "\n\r\n  \n{\"a\":1}\r\n\n";
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, in, strlen(in), collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "{\"a\":1}\r");
	seen_clear(&s);
	kube_framer_free(&f);
}

/* An event of several MiB (an EndpointSlice with a thousand endpoints is far smaller). */
static void test_huge_event(void **state)
{
	const size_t size = 8u << 20;
	const size_t pieces[] = { 1, 4096, 65537, size + 1 };
	char *line = malloc(size + 1);
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	assert_non_null(line);
	for (size_t i = 0; i < size; i++)
		line[i] = (char)('a' + i % 26);
	line[size] = '\n';
	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		size_t piece = pieces[p] == 1 ? 1021 : pieces[p]; /* 1-byte feeding of 8 MiB is only slow */

		kube_framer_init(&f, 0);
		for (size_t off = 0; off < size + 1; off += piece)
			assert_int_equal(kube_framer_feed(&f, line + off,
							  off + piece <= size + 1 ? piece : size + 1 - off, collect,
							  &s),
					 0);
		assert_int_equal(s.n, 1);
		assert_int_equal(strlen(s.lines[0]), size);
		assert_memory_equal(s.lines[0], line, size);
		seen_clear(&s);
		kube_framer_free(&f);
	}
	free(line);
}

static void test_line_too_long(void **state)
{
	struct kube_framer f;
	struct seen s = { 0 };

	(void)state;
	kube_framer_init(&f, 8);
	/* a whole line in one piece */
	assert_int_equal(kube_framer_feed(&f, "0123456789\n", 11, collect, &s), -E2BIG);
	kube_framer_reset(&f);
	/* a line growing across pieces */
	assert_int_equal(kube_framer_feed(&f, "01234", 5, collect, &s), 0);
	assert_int_equal(kube_framer_feed(&f, "56789", 5, collect, &s), -E2BIG);
	kube_framer_reset(&f);
	/* exactly the limit is fine */
	assert_int_equal(kube_framer_feed(&f, "0123", 4, collect, &s), 0);
	assert_int_equal(kube_framer_feed(&f, "4567\n", 5, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "01234567");
	seen_clear(&s);
	kube_framer_free(&f);
}

static void test_callback_stops_the_feed(void **state)
{
	struct kube_framer f;
	struct seen s = { .stop_at = 2 };

	(void)state;
	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, stream, strlen(stream), collect, &s), 1);
	assert_int_equal(s.n, 2);
	seen_clear(&s);
	kube_framer_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split_position),
		cmocka_unit_test(test_every_pair_of_split_positions),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_many_events_in_one_piece),
		cmocka_unit_test(test_piece_spanning_two_events),
		cmocka_unit_test(test_partial_trailing_line),
		cmocka_unit_test(test_blank_lines_and_crlf),
		cmocka_unit_test(test_huge_event),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_callback_stops_the_feed),
	};

	return cmocka_run_group_tests_name("kube_framer", tests, NULL, NULL);
}
