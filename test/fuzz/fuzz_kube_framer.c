// SPDX-License-Identifier: Apache-2.0
/*
 * The watch-stream framer against a reference: the stream is cut into pieces
 * (sizes from the input, as TLS and chunked encoding would cut it) and the
 * lines the framer hands out must be exactly the non-blank lines of the
 * whole stream, in order; a line longer than the limit must stop it with
 * -E2BIG, and a stream that ends mid-line must leave exactly that tail pending.
 *
 * Input: byte 0 = the line limit (1..256), byte 1 = a seed for the piece
 * sizes (1..64 bytes), byte 2 = the line after which the callback stops the
 * feed (0 = never), then the stream.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_framer.h"

#define CALLBACK_STOP 12345

struct seen {
	const char *stream;
	size_t stream_len;
	size_t pos; /* where the next expected line starts in stream */
	size_t lines;
	size_t stop_at;
};

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* The next non-blank complete line of the whole stream, from pos. */
static bool next_expected(struct seen *s, const char **line, size_t *len)
{
	while (s->pos < s->stream_len) {
		const char *start = s->stream + s->pos;
		const char *nl = memchr(start, '\n', s->stream_len - s->pos);

		if (!nl)
			return false;
		s->pos += (size_t)(nl - start) + 1;
		if (!blank(start, (size_t)(nl - start))) {
			*line = start;
			*len = (size_t)(nl - start);
			return true;
		}
	}
	return false;
}

static int on_line(const char *line, size_t len, void *ctx)
{
	struct seen *s = ctx;
	const char *want;
	size_t want_len;

	if (len == 0 || memchr(line, '\n', len) || blank(line, len))
		abort();
	if (!next_expected(s, &want, &want_len) || want_len != len || memcmp(want, line, len) != 0)
		abort();
	s->lines++;
	return s->stop_at && s->lines == s->stop_at ? CALLBACK_STOP : 0;
}

/* Is there a line (complete, or the tail) longer than max before the expected position runs out? */
static bool has_long_line(const char *stream, size_t len, size_t from, size_t max)
{
	size_t start = from;

	for (size_t i = from; i <= len; i++) {
		if (i == len || stream[i] == '\n') {
			if (i - start > max)
				return true;
			start = i + 1;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_framer f;
	struct seen s = { 0 };
	size_t max_line, off = 0, tail;
	unsigned int seed;
	int ret = 0;

	if (size < 3)
		return 0;
	max_line = data[0] % 256 + 1;
	seed = data[1];
	s.stop_at = data[2] % 8;
	s.stream = (const char *)data + 3;
	s.stream_len = size - 3;

	kube_framer_init(&f, max_line);
	while (off < s.stream_len && ret == 0) {
		size_t piece = (seed = seed * 1103515245u + 12345u) % 64 + 1;

		if (piece > s.stream_len - off)
			piece = s.stream_len - off;
		ret = kube_framer_feed(&f, s.stream + off, piece, on_line, &s);
		off += piece;
	}
	if (ret == CALLBACK_STOP) {
		if (s.lines != s.stop_at)
			abort();
	} else if (ret == -E2BIG) {
		/* refused only for a real over-long line at or after the last good one */
		if (!has_long_line(s.stream, s.stream_len, 0, max_line))
			abort();
	} else if (ret != 0) {
		abort();
	} else {
		const char *line;
		size_t len;

		if (next_expected(&s, &line, &len))
			abort(); /* a complete line was never handed out */
		if (has_long_line(s.stream, s.stream_len, 0, max_line))
			abort(); /* an over-long line went through */
		tail = 0;
		while (tail < s.stream_len && s.stream[s.stream_len - 1 - tail] != '\n')
			tail++;
		if (kube_framer_pending(&f) != tail)
			abort();
	}
	/* a new stream after a reset starts clean */
	kube_framer_reset(&f);
	if (kube_framer_pending(&f) != 0)
		abort();
	kube_framer_free(&f);
	return 0;
}
