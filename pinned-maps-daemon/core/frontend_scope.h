/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frontends a Service whose objects failed translation may own, read
 * from whatever fields of it still parse. A pinned frontend that no valid
 * Service claims, and that such a Service may own, is kept rather than
 * deleted (README "Semantics"): a typo must not take down what was working,
 * also after a restart, when the daemon never saw the Service valid.
 *
 * Precise where the fields allow: a Service that is fine itself but has a
 * malformed EndpointSlice gives exactly its frontends; one bad port among
 * good ones leaves the good ports exact and makes the bad one "any port" of
 * its protocol; a bad clusterIP makes the address "any" for its ports. A
 * Service whose spec cannot be read at all may own any frontend.
 */
#ifndef SOCKLB_FRONTEND_SCOPE_H
#define SOCKLB_FRONTEND_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_service.h"
#include "lbmap.h"
#include "translate.h"

#define SCOPE_ANY_ADDR (1U << 0)
#define SCOPE_ANY_PORT (1U << 1)
#define SCOPE_ANY_PROTO (1U << 2)

/* The frontends that match fe in every field not marked any. */
struct frontend_pattern {
	struct socklb_frontend fe;
	unsigned int any; /* SCOPE_ANY_* */
};

struct frontend_scope {
	struct frontend_pattern *items;
	size_t n;
	size_t cap;
};

/*
 * The scope of svc, a Service translate_service() refused, on the node
 * translation saw (node ports). 0 or -ENOMEM.
 */
int frontend_scope_build(const struct k8s_service *svc, const struct node_view *node, struct frontend_scope *out);
bool frontend_scope_has(const struct frontend_scope *s, const struct socklb_frontend *fe);
void frontend_scope_release(struct frontend_scope *s);

#endif /* SOCKLB_FRONTEND_SCOPE_H */
