/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontends the cluster asks for, kept up to date incrementally: each
 * Service is translated again only when it, one of its EndpointSlices or the
 * daemon's Node changed (the store's change set tells), so one endpoint
 * change costs one service's translation, not the cluster's.
 *
 * Two services may claim the same frontend (the same external IP, say): the
 * one whose namespace/name sorts first wins, deterministically, and the other
 * takes over when the winner lets go.
 */
#ifndef SOCKLB_DESIRED_STATE_H
#define SOCKLB_DESIRED_STATE_H

#include <stddef.h>

#include "store.h"
#include "translate.h"

struct frontend_list {
	struct socklb_frontend *items;
	size_t n;
	size_t cap;
};

int frontend_list_add(struct frontend_list *l, const struct socklb_frontend *fe);
void frontend_list_release(struct frontend_list *l);

struct desired_update {
	struct frontend_list touched; /* frontends whose desired value may have changed */
	struct invalid_list rejected; /* objects found invalid by this update that were not already */
	size_t retranslated; /* services translated again */
	bool namespaces_changed;
};

void desired_update_release(struct desired_update *u);

struct desired_state;

/* cfg's strings must outlive the desired state. */
struct desired_state *desired_state_new(const struct translate_config *cfg);
void desired_state_free(struct desired_state *d);

/* Under the store lock: bring the desired state up to date with the store. */
int desired_state_update(struct desired_state *d, struct store *s, struct desired_update *u);

/* The frontend's desired value, or NULL when no service wants it; *owner (may be NULL) gets "namespace/name". */
const struct desired_frontend *desired_state_lookup(const struct desired_state *d, const struct socklb_frontend *fe,
						    const char **owner);
/* Every desired frontend (the winning claim of each). */
typedef int (*desired_visit_cb)(const struct desired_frontend *df, void *ctx);
int desired_state_foreach(const struct desired_state *d, desired_visit_cb cb, void *ctx);
size_t desired_state_count(const struct desired_state *d);

/*
 * A frontend no valid Service claims may still be owned by a Service whose
 * objects are invalid and that was never valid since we started (so its last
 * good frontends are not known): its "namespace/name" when its readable
 * fields say it may own fe (frontend_scope.h), and in *invalid (may be NULL)
 * the objects at fault. NULL when none may.
 */
const char *desired_state_possible_owner(const struct desired_state *d, const struct socklb_frontend *fe,
					 const struct invalid_list **invalid);
/* Every object currently rejected, with the Service it belongs to ("namespace/name"); stops at a non-zero return. */
typedef int (*invalid_visit_cb)(const char *service, const struct invalid_object *o, void *ctx);
int desired_state_invalid_foreach(const struct desired_state *d, invalid_visit_cb cb, void *ctx);
/*
 * Desired frontends of Services with internalTrafficPolicy Local that have
 * endpoints, none of them on this node, per family (4 or 6).
 */
size_t desired_state_no_local_endpoints(const struct desired_state *d, int family);
/* The Nodes have been listed and the daemon's (translate_config.node_name) is not among them. */
bool desired_state_node_missing(const struct desired_state *d);

#endif /* SOCKLB_DESIRED_STATE_H */
