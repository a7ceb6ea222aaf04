// SPDX-License-Identifier: Apache-2.0
/* The doomed set of one termination run: see term_internal.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term_internal.h"

int term_fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;
	int off;

	va_start(ap, fmt);
	off = vsnprintf(why, len, fmt, ap);
	va_end(ap);
	if (off >= 0 && (size_t)off < len)
		snprintf(why + off, len - (size_t)off, ": %s", strerror(-err));
	return err;
}

int socklb_term_key_build(const struct socklb_term_target *target, struct socklb_term_key *key)
{
	if (!target->protocols || (target->protocols & ~(SOCKLB_TERM_UDP | SOCKLB_TERM_TCP)))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	memcpy(key->backend, target->backend, sizeof(key->backend));
	key->svc_id = target->svc_id;
	key->backend_port = htons(target->backend_port);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct term_doomed_entry *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	/* equal keys: the first target first, so that it gets the counts */
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

int term_doomed_build(struct term_doomed *d, const struct socklb_term_target *targets, size_t from, size_t to)
{
	size_t i, k;

	memset(d, 0, sizeof(*d));
	if (from >= to)
		return 0;
	d->e = calloc(to - from, sizeof(*d->e));
	if (!d->e)
		return -ENOMEM;
	for (i = from; i < to; i++) {
		struct term_doomed_entry *e = &d->e[i - from];

		if (socklb_term_key_build(&targets[i], &e->key))
			return -EINVAL;
		e->index = (__u32)i;
		e->protocols = targets[i].protocols;
	}
	qsort(d->e, to - from, sizeof(*d->e), entry_cmp);
	for (i = 0, k = 0; i < to - from; i++) {
		if (k && memcmp(&d->e[k - 1].key, &d->e[i].key, sizeof(d->e[i].key)) == 0) {
			d->e[k - 1].protocols |= d->e[i].protocols;
			continue;
		}
		d->e[k++] = d->e[i];
	}
	d->n = k;
	for (i = 0; i < d->n; i++)
		d->protocols |= d->e[i].protocols;
	return 0;
}

void term_doomed_free(struct term_doomed *d)
{
	free(d->e);
	memset(d, 0, sizeof(*d));
}
