/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's view of the cluster: the newest object of each kind, by
 * namespace/name, in its compact form (k8s_object.h), and the EndpointSlices
 * of each Service by their kubernetes.io/service-name label, so that
 * translation finds them without a scan. Sources (the JSON file, the
 * Kubernetes API watchers, each possibly in its own thread) decode objects
 * and write them here; the syncer wakes on store_event_fd(), takes a
 * consistent view under the lock and turns it into map entries. Thread-safe.
 */
#ifndef SOCKLB_STORE_H
#define SOCKLB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_endpoint_slice.h"
#include "k8s_object.h"

struct store;

struct store *store_new(void);
void store_free(struct store *s);

/*
 * Insert or replace one object; takes ownership of obj (an equal one changes
 * nothing and is freed). -EINVAL without metadata.name.
 */
int store_upsert(struct store *s, struct k8s_object *obj);
/* Remove one object (namespace "" for cluster-scoped kinds); 0 when absent. */
int store_delete(struct store *s, enum k8s_kind kind, const char *ns, const char *name);
/*
 * A complete list of one kind (initial LIST, relist after 410, file reload):
 * takes ownership of objs[0, n) (the array stays the caller's), deletes
 * what is not in it, and marks the kind as listed.
 */
int store_replace(struct store *s, enum k8s_kind kind, struct k8s_object **objs, size_t n);
/* True once every kind has been listed at least once (README.md invariant 2). */
bool store_complete(const struct store *s);
/* True once kind has been listed at least once: its absent objects are known to be absent. */
bool store_listed(const struct store *s, enum k8s_kind kind);
/* Becomes readable after any change; the syncer drains it with store_drain_events(). */
int store_event_fd(const struct store *s);
void store_drain_events(struct store *s);
/* Incremented on every change; lets the syncer skip work when nothing moved. */
unsigned long store_generation(const struct store *s);

/*
 * Told of every object a source delivers, under the store lock, before the
 * store changes: old is the stored object (NULL: none), cur the delivered
 * one (NULL: a deletion); changed is false for a re-delivery equal to old
 * in its compact form (k8s_object_equal). For counting changes as
 * kube-proxy does (change_tracker.h).
 */
typedef void (*store_observer_cb)(enum k8s_kind kind, const struct k8s_object *old, const struct k8s_object *cur,
				  bool changed, void *ctx);
/* Before any source starts. cb NULL: none. */
void store_set_observer(struct store *s, store_observer_cb cb, void *ctx);

void store_lock(struct store *s);
void store_unlock(struct store *s);
/* Under the lock: visit every object of kind; stop at a non-zero return. */
typedef int (*store_visit_cb)(const struct k8s_object *obj, void *ctx);
int store_foreach(struct store *s, enum k8s_kind kind, store_visit_cb cb, void *ctx);
/* Under the lock: one object, or NULL (ns NULL or "" for cluster-scoped kinds). */
const struct k8s_object *store_get(struct store *s, enum k8s_kind kind, const char *ns, const char *name);
/* The same by interned strings (as the store's objects and changes hold them): no string is hashed. */
const struct k8s_object *store_find(struct store *s, enum k8s_kind kind, const char *ns, const char *name);
/*
 * Under the lock: the first EndpointSlice in namespace ns labelled with the
 * Service name (interned strings, as the store's objects hold them), the
 * next one in its obj.link; NULL when none.
 */
const struct k8s_slice *store_service_slices(struct store *s, const char *ns, const char *name);

/*
 * Under the lock: visit every object stored, changed or deleted since the
 * previous call, once each, and forget them (an upsert of an equal object is
 * no change). For the one reader that keeps state derived from the store
 * (the syncer), so that a change costs what changed. The visit goes on after
 * a non-zero return, which is returned at the end. ns and name are interned
 * strings, valid during the call.
 */
typedef int (*store_change_cb)(enum k8s_kind kind, const char *ns, const char *name, void *ctx);
int store_take_changes(struct store *s, store_change_cb cb, void *ctx);
/*
 * In store_take_changes()'s callback, for a changed EndpointSlice: the
 * Service it was labelled with at the previous take (the one it may have
 * left), NULL when none or when it is new.
 */
const char *store_change_previous_service(struct store *s, const char *ns, const char *name);

#endif /* SOCKLB_STORE_H */
