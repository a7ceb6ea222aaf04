// SPDX-License-Identifier: Apache-2.0
#include "invalid_object.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int invalid_list_grow(struct invalid_list *l, size_t more)
{
	struct invalid_object *items;
	size_t cap;

	if (l->n + more <= l->cap)
		return 0;
	cap = l->cap ? l->cap : 2;
	while (cap < l->n + more)
		cap *= 2;
	items = realloc(l->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	l->items = items;
	l->cap = cap;
	return 0;
}

int invalid_report(struct invalid_list *l, enum k8s_kind kind, const char *ns, const char *name, const char *fmt, ...)
{
	struct invalid_object o = { .kind = kind };
	va_list ap;

	snprintf(o.name, sizeof(o.name), "%s/%s", ns ? ns : "", name ? name : "");
	va_start(ap, fmt);
	vsnprintf(o.why, sizeof(o.why), fmt, ap);
	va_end(ap);
	pr_warn("invalid %s %s: %s", k8s_kind_name(kind), o.name, o.why);
	if (l && invalid_list_add(l, &o))
		return -ENOMEM;
	return -EINVAL;
}

int invalid_list_add(struct invalid_list *l, const struct invalid_object *o)
{
	if (invalid_list_grow(l, 1))
		return -ENOMEM;
	l->items[l->n++] = *o;
	return 0;
}

bool invalid_list_has(const struct invalid_list *l, const struct invalid_object *o)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct invalid_object *x = &l->items[i];

		if (x->kind == o->kind && strcmp(x->name, o->name) == 0 && strcmp(x->why, o->why) == 0)
			return true;
	}
	return false;
}

void invalid_list_release(struct invalid_list *l)
{
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void invalid_format(const struct invalid_object *o, char *buf, size_t len)
{
	snprintf(buf, len, "invalid %s %s: %s", k8s_kind_name(o->kind), o->name, o->why);
}
