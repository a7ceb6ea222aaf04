// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kube_framer.h"

void kube_framer_init(struct kube_framer *f, size_t max_line)
{
	memset(f, 0, sizeof(*f));
	f->max_line = max_line ? max_line : KUBE_FRAMER_MAX_LINE;
}

static bool only_blanks(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int emit(const char *line, size_t len, kube_line_cb cb, void *ctx)
{
	if (only_blanks(line, len))
		return 0;
	return cb(line, len, ctx);
}

static int keep(struct kube_framer *f, const char *data, size_t len)
{
	size_t need = f->len + len;
	char *grown;
	size_t cap;

	if (need > f->max_line)
		return -E2BIG;
	if (need > f->cap) {
		cap = f->cap ? f->cap : 4096;
		while (cap < need)
			cap *= 2;
		grown = realloc(f->buf, cap);
		if (!grown)
			return -ENOMEM;
		f->buf = grown;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len = need;
	return 0;
}

int kube_framer_feed(struct kube_framer *f, const char *data, size_t len, kube_line_cb cb, void *ctx)
{
	const char *end = data + len;
	const char *nl;
	size_t line_len;
	int err;

	while (data < end && (nl = memchr(data, '\n', end - data))) {
		if (f->len) {
			/* finish the line started by an earlier piece */
			err = keep(f, data, nl - data);
			if (err)
				return err;
			line_len = f->len;
			f->len = 0;
			err = emit(f->buf, line_len, cb, ctx);
		} else {
			/* a whole line inside this piece: no copy */
			if ((size_t)(nl - data) > f->max_line)
				return -E2BIG;
			err = emit(data, nl - data, cb, ctx);
		}
		if (err)
			return err;
		data = nl + 1;
	}
	return data < end ? keep(f, data, end - data) : 0;
}

size_t kube_framer_pending(const struct kube_framer *f)
{
	return f->len;
}

void kube_framer_reset(struct kube_framer *f)
{
	f->len = 0;
}

void kube_framer_free(struct kube_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}
