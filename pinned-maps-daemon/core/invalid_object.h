/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects the translation rejects (a bad IP, a port out of range, an unknown
 * type): each is logged once per translation with its kind, namespace/name
 * and field, and remembered so that the daemon can say which objects are
 * wrong in /metrics, in the log line of a sync that keeps frontends for them,
 * and in --once's exit message.
 */
#ifndef SOCKLB_INVALID_OBJECT_H
#define SOCKLB_INVALID_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_object.h"

/* A namespace (63) and a name (253) with the slash between them. */
#define INVALID_NAME_LEN 320
#define INVALID_WHY_LEN 256

struct invalid_object {
	enum k8s_kind kind;
	char name[INVALID_NAME_LEN]; /* "namespace/name" */
	char why[INVALID_WHY_LEN]; /* the field and what is wrong with it */
};

struct invalid_list {
	struct invalid_object *items;
	size_t n;
	size_t cap;
};

/*
 * Log "invalid KIND namespace/name: WHY" as a warning and, when l is not
 * NULL, add it to l. Returns -EINVAL (what the caller returns for the bad
 * object), or -ENOMEM when it could not be added.
 */
int invalid_report(struct invalid_list *l, enum k8s_kind kind, const char *ns, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Add a copy of o. 0 or -ENOMEM. */
int invalid_list_add(struct invalid_list *l, const struct invalid_object *o);
bool invalid_list_has(const struct invalid_list *l, const struct invalid_object *o);
void invalid_list_release(struct invalid_list *l);
/* "invalid Service shop/web: spec.ports[0].port is not a port number (1-65535)" */
void invalid_format(const struct invalid_object *o, char *buf, size_t len);

#endif /* SOCKLB_INVALID_OBJECT_H */
