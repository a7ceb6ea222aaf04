/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames a watch stream into events. The API server sends one JSON object per
 * line, but the bytes arrive in whatever pieces TLS and chunked encoding cut
 * them into: a piece may end mid-event or hold several events. The framer
 * keeps the unfinished tail and hands out only complete lines.
 */
#ifndef SOCKLB_KUBE_FRAMER_H
#define SOCKLB_KUBE_FRAMER_H

#include <stddef.h>

/* One event is far below this; a line longer than it means a broken stream. */
#define KUBE_FRAMER_MAX_LINE (64u << 20)

struct kube_framer {
	char *buf; /* the unfinished line so far */
	size_t len;
	size_t cap;
	size_t max_line;
};

/* One complete line without its '\n' (never empty); non-zero stops the feed and is returned by it. */
typedef int (*kube_line_cb)(const char *line, size_t len, void *ctx);

/* max_line 0 = KUBE_FRAMER_MAX_LINE. */
void kube_framer_init(struct kube_framer *f, size_t max_line);
/*
 * Hand every line completed by data to cb, keep the rest. Returns 0, cb's
 * non-zero value, -E2BIG when a line exceeds max_line or -ENOMEM; after a
 * non-zero return the framer must be reset before the next stream.
 */
int kube_framer_feed(struct kube_framer *f, const char *data, size_t len, kube_line_cb cb, void *ctx);
/* Bytes of an unfinished line (a stream that ends with some was cut mid-event). */
size_t kube_framer_pending(const struct kube_framer *f);
/* Forget the unfinished line: a new stream starts. */
void kube_framer_reset(struct kube_framer *f);
void kube_framer_free(struct kube_framer *f);

#endif /* SOCKLB_KUBE_FRAMER_H */
