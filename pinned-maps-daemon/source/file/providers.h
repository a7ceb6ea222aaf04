/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which items of the file source define each object (kind, namespace, name):
 * one, unless the input writes an object twice. The file source parses only
 * the items whose bytes changed; this keeps what parsing everything would do
 * with the others. An object whose last definition goes away leaves the
 * store. An object is contested when it has more than one definition, or
 * lost one while the store may still hold the one it lost: its remaining
 * definitions are parsed again at their file's next load, so the definition
 * read last wins, as when every object of a changed file was read again.
 */
#ifndef SOCKLB_PROVIDERS_H
#define SOCKLB_PROVIDERS_H

#include <stdbool.h>

#include "store.h"

/* An object's identity; its strings are interned (intern.h). */
struct object_key {
	enum k8s_kind kind;
	const char *ns;
	const char *name;
};

struct providers;

struct providers *providers_new(struct store *s);
void providers_free(struct providers *p);

/* A load begins: what is stored from now on is this load's. */
void providers_next_load(struct providers *p);
/* One more item defines key; this load parsed it and stores it. -ENOMEM. */
int providers_add(struct providers *p, const struct object_key *key);
/* An item that defined key went away; the object stays in the store until providers_forget_unused(). */
void providers_release(struct providers *p, const struct object_key *key);
/* When no item defines key any more, the object leaves the store. */
void providers_forget_unused(struct providers *p, const struct object_key *key);
/* A definition of key this load parsed again went into the store. */
void providers_stored(struct providers *p, const struct object_key *key);
bool providers_contested(const struct providers *p, const struct object_key *key);
/* False when no object is contested: then no key needs a look. */
bool providers_any_contested(const struct providers *p);

#endif /* SOCKLB_PROVIDERS_H */
