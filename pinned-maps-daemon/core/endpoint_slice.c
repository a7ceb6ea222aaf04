// SPDX-License-Identifier: Apache-2.0
#include "endpoint_slice.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "translate.h"

struct candidate {
	struct socklb_endpoint ep;
	const struct k8s_slice *slice;
	const struct slice_endpoint *info;
	bool local; /* nodeName is the daemon's node */
	size_t order; /* slice order, then position: decides which duplicate is kept */
};

static int candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int c = endpoint_cmp(&x->ep, &y->ep);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The endpoint's hints.forNodes (nodes) or hints.forZones: how many names, from where. */
static size_t hint_names(const struct candidate *c, bool nodes, const char *const **names)
{
	const struct slice_hints *h = k8s_slice_endpoint_hints(c->slice, c->info);

	if (!h)
		return 0;
	*names = k8s_slice_hint_names(c->slice) + h->first + (nodes ? 0 : h->n_nodes);
	return nodes ? h->n_nodes : h->n_zones;
}

static bool has_hints(const struct candidate *c, bool nodes)
{
	const char *const *names;

	return hint_names(c, nodes, &names) > 0;
}

static bool hints_include(const struct candidate *c, bool nodes, const char *name)
{
	const char *const *names;
	size_t n = hint_names(c, nodes, &names);

	if (!name || !*name)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

/* Which ready endpoints the hints leave to this node (kube-proxy's topology mode). */
enum topology {
	TOPOLOGY_ANY, /* no usable hints: every ready endpoint */
	TOPOLOGY_SAME_NODE, /* those whose hints.forNodes names this node */
	TOPOLOGY_SAME_ZONE, /* those whose hints.forZones names this node's zone */
};

/*
 * kube-proxy's topologyModeFromHints (1.35, PreferSameTrafficDistribution
 * GA): a kind of hint counts only when every ready endpoint carries it and
 * at least one names this node (or its zone); otherwise a node or zone would
 * be starved, or traffic would pile onto the endpoints without hints. Node
 * hints first: PreferSameNode publishes zone hints too, as its fallback. The
 * Service's trafficDistribution is the EndpointSlice controller's business:
 * the proxy reads only the hints.
 */
static enum topology topology_mode(const struct candidate *c, size_t n, const struct backend_query *q)
{
	bool all_node = true, all_zone = true, for_node = false, for_zone = false;

	for (size_t i = 0; i < n; i++) {
		if (!(c[i].info->conditions & SLICE_ENDPOINT_READY))
			continue;
		all_node = all_node && has_hints(&c[i], true);
		all_zone = all_zone && has_hints(&c[i], false);
		for_node = for_node || hints_include(&c[i], true, q->node_name);
		for_zone = for_zone || hints_include(&c[i], false, q->zone);
	}
	/* for_node and for_zone imply a ready endpoint: with none, no topology. */
	if (all_node && for_node)
		return TOPOLOGY_SAME_NODE;
	if (all_zone && for_zone)
		return TOPOLOGY_SAME_ZONE;
	return TOPOLOGY_ANY;
}

static bool available_for(const struct candidate *c, enum topology mode, const struct backend_query *q)
{
	switch (mode) {
	case TOPOLOGY_SAME_NODE:
		return hints_include(c, true, q->node_name);
	case TOPOLOGY_SAME_ZONE:
		return hints_include(c, false, q->zone);
	default:
		return true;
	}
}

enum pick {
	PICK_READY,
	PICK_SERVING_TERMINATING,
};

static bool picked(const struct candidate *c, enum pick pick, enum topology mode, const struct backend_query *q)
{
	__u8 cond = c->info->conditions;

	if (q->policy == TRAFFIC_POLICY_LOCAL && !c->local)
		return false;
	if (pick == PICK_SERVING_TERMINATING)
		return (cond & SLICE_ENDPOINT_SERVING) && (cond & SLICE_ENDPOINT_TERMINATING);
	return (cond & SLICE_ENDPOINT_READY) && available_for(c, mode, q);
}

static size_t collect(const struct candidate *c, size_t n, enum pick pick, enum topology mode,
		      const struct backend_query *q, struct socklb_endpoint *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (picked(&c[i], pick, mode, q))
			out[k++] = c[i].ep;
	}
	return k;
}

/*
 * The same IP:port may appear in several slices while an endpoint moves
 * between them: keep the first, unless a later copy is local (as kube-proxy's
 * EndpointSliceCache does). Input is sorted by endpoint, then order.
 */
static size_t dedupe(struct candidate *c, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && endpoint_cmp(&c[k - 1].ep, &c[i].ep) == 0) {
			if (c[i].local && !c[k - 1].local)
				c[k - 1] = c[i];
			continue;
		}
		c[k++] = c[i];
	}
	return k;
}

/* The slice port of the service port: same name (interned: the same pointer) and protocol. */
static const struct slice_port *find_port(const struct k8s_slice *s, const struct backend_query *q)
{
	const struct slice_port *ports = k8s_slice_ports(s);

	for (__u32 i = 0; i < s->n_ports; i++) {
		if (ports[i].proto == q->proto && ports[i].name == q->port_name)
			return &ports[i];
	}
	return NULL;
}

int endpoint_slices_select(const struct k8s_slice *const *slices, size_t n_slices, const struct backend_query *q,
			   struct socklb_endpoint **out, __u32 *n)
{
	struct socklb_endpoint *eps = NULL;
	struct candidate *c;
	size_t total = 0, k = 0, picked_n;
	enum topology mode;

	*out = NULL;
	*n = 0;
	for (size_t s = 0; s < n_slices; s++)
		total += slices[s]->n_endpoints;
	if (!total)
		return 0;
	c = calloc(total, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t s = 0; s < n_slices; s++) {
		const struct k8s_slice *ks = slices[s];
		const struct slice_port *port = ks->family == q->family ? find_port(ks, q) : NULL;
		const struct slice_endpoint *eps = k8s_slice_endpoints(ks);

		for (__u32 e = 0; port && e < ks->n_endpoints; e++) {
			memcpy(c[k].ep.addr, eps[e].addr, sizeof(c[k].ep.addr));
			c[k].ep.port = port->port;
			c[k].slice = ks;
			c[k].info = &eps[e];
			c[k].local = eps[e].node_name && q->node_name && strcmp(eps[e].node_name, q->node_name) == 0;
			c[k].order = k;
			k++;
		}
	}
	qsort(c, k, sizeof(*c), candidate_cmp);
	k = dedupe(c, k);
	if (!k)
		goto out;
	eps = calloc(k, sizeof(*eps));
	if (!eps) {
		free(c);
		return -ENOMEM;
	}
	/*
	 * Hints only narrow the cluster-wide choice: Local already is this node's.
	 * A topology with no ready endpoint for us is never chosen, so an empty
	 * ready pick means none is ready in the scope: then serving and
	 * terminating ones, hints ignored (as kube-proxy; Local stays local).
	 */
	mode = q->policy == TRAFFIC_POLICY_CLUSTER ? topology_mode(c, k, q) : TOPOLOGY_ANY;
	picked_n = collect(c, k, PICK_READY, mode, q, eps);
	if (!picked_n)
		picked_n = collect(c, k, PICK_SERVING_TERMINATING, TOPOLOGY_ANY, q, eps);
	if (picked_n) {
		*out = eps;
		*n = (__u32)picked_n;
	} else {
		free(eps);
	}
out:
	free(c);
	return 0;
}
