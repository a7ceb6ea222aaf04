/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's view of the cluster: the newest object of each kind, by
 * namespace/name, as the source delivered it (cJSON) less the fields no
 * reader uses (managedFields, ownerReferences, kubectl's last-applied
 * annotation, EndpointSlice endpoints' targetRef). Sources (the
 * JSON file, the Kubernetes API watchers, each possibly in its own thread)
 * write; the syncer wakes on store_event_fd(), takes a consistent view under
 * the lock and turns it into map entries. Thread-safe.
 */
#ifndef SOCKLB_STORE_H
#define SOCKLB_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

enum k8s_kind {
	K8S_SERVICE,
	K8S_ENDPOINTSLICE,
	K8S_NAMESPACE,
	K8S_NODE,
	K8S_KIND_COUNT,
};

/* "Service", "EndpointSlice", "Namespace", "Node" */
const char *k8s_kind_name(enum k8s_kind kind);

struct store;

struct store *store_new(void);
void store_free(struct store *s);

/* Insert or replace one object; takes ownership of obj. -EINVAL without metadata.name. */
int store_upsert(struct store *s, enum k8s_kind kind, cJSON *obj);
/* Remove one object (namespace "" for cluster-scoped kinds); 0 when absent. */
int store_delete(struct store *s, enum k8s_kind kind, const char *ns, const char *name);
/*
 * A complete list of one kind (initial LIST, relist after 410, file reload):
 * takes ownership of the array's items (it detaches them: the emptied array
 * stays the caller's to free; NULL is an empty list), deletes what is not in
 * it, and marks the kind as listed.
 */
int store_replace(struct store *s, enum k8s_kind kind, cJSON *items);
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
 * one (NULL: a deletion); changed is false for a re-delivery identical to
 * old. For counting changes as kube-proxy does (change_tracker.h).
 */
typedef void (*store_observer_cb)(enum k8s_kind kind, const cJSON *old, const cJSON *cur, bool changed, void *ctx);
/* Before any source starts. cb NULL: none. */
void store_set_observer(struct store *s, store_observer_cb cb, void *ctx);

void store_lock(struct store *s);
void store_unlock(struct store *s);
/* Under the lock: visit every object of kind; stop at a non-zero return. */
typedef int (*store_visit_cb)(const cJSON *obj, void *ctx);
int store_foreach(struct store *s, enum k8s_kind kind, store_visit_cb cb, void *ctx);
/* Under the lock: one object, or NULL. */
const cJSON *store_get(struct store *s, enum k8s_kind kind, const char *ns, const char *name);

/*
 * Under the lock: visit every object stored, changed or deleted since the
 * previous call, once each, and forget them (an identical upsert is no
 * change). For the one reader that keeps state derived from the store (the
 * syncer), so that a change costs what changed. The visit goes on after a
 * non-zero return, which is returned at the end.
 */
typedef int (*store_change_cb)(enum k8s_kind kind, const char *ns, const char *name, void *ctx);
int store_take_changes(struct store *s, store_change_cb cb, void *ctx);

#endif /* SOCKLB_STORE_H */
