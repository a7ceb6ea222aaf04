// SPDX-License-Identifier: Apache-2.0
#include "endpoint_slice.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "invalid_object.h"
#include "json_value.h"
#include "k8s_object.h"
#include "log.h"
#include "translate.h"

#define bad_slice(invalid, slice, fmt, ...) invalid_report(invalid, K8S_ENDPOINTSLICE, slice, fmt, ##__VA_ARGS__)

static int parse_ports(const cJSON *slice, struct parsed_slice *ps, struct invalid_list *invalid)
{
	const cJSON *ports = k8s_field(slice, "ports");
	const cJSON *p;
	size_t i = 0;

	if (!ports)
		return 0;
	if (!cJSON_IsArray(ports))
		return bad_slice(invalid, slice, "ports is not a list");
	ps->ports = calloc(cJSON_GetArraySize(ports) + 1, sizeof(*ps->ports));
	if (!ps->ports)
		return -ENOMEM;
	cJSON_ArrayForEach(p, ports) {
		const cJSON *port = k8s_field(p, "port");
		const char *name = k8s_string(p, "name");
		const char *proto = k8s_string(p, "protocol");
		struct slice_port *sp = &ps->ports[ps->n_ports];
		long num;
		int ret;

		if (!cJSON_IsObject(p))
			return bad_slice(invalid, slice, "ports[%zu] is not an object", i);
		if ((k8s_field(p, "name") && !name) || (k8s_field(p, "protocol") && !proto))
			return bad_slice(invalid, slice, "ports[%zu]: name and protocol must be strings", i);
		i++;
		/* A nil port means "all ports": kube-proxy has nothing to program for it. */
		if (!port)
			continue;
		if (!json_int_in_range(port, 1, 65535, &num))
			return bad_slice(invalid, slice, "ports[%zu].port is not a port number (1-65535)", i - 1);
		ret = socklb_proto_parse(proto ? proto : "TCP");
		if (ret < 0) {
			/* SCTP and friends: valid, but the socket LB only translates TCP and UDP. */
			pr_debug("EndpointSlice %s/%s: ignoring ports[%zu] with protocol %s", k8s_namespace(slice),
				 k8s_name(slice), i - 1, proto);
			continue;
		}
		sp->name = name ? name : "";
		sp->proto = (__u8)ret;
		sp->port = (__u16)num;
		ps->n_ports++;
	}
	return 0;
}

/* hints.forNodes or hints.forZones: a list of {"name": ...}; NULL when absent or empty, as kube-proxy reads it. */
static int parse_hints(const cJSON *slice, const cJSON *hints, const char *field, size_t i, const cJSON **out,
		       struct invalid_list *invalid)
{
	const cJSON *list = k8s_field(hints, field);
	const cJSON *h;

	*out = NULL;
	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return bad_slice(invalid, slice, "endpoints[%zu].hints.%s is not a list", i, field);
	cJSON_ArrayForEach(h, list) {
		if (!k8s_string(h, "name"))
			return bad_slice(invalid, slice, "endpoints[%zu].hints.%s[] needs a name", i, field);
	}
	*out = cJSON_GetArraySize(list) > 0 ? list : NULL;
	return 0;
}

static int parse_endpoint(const cJSON *slice, const cJSON *ep, size_t i, const char *node_name, struct parsed_slice *ps,
			  struct invalid_list *invalid)
{
	const cJSON *addresses = k8s_field(ep, "addresses");
	const cJSON *conditions = k8s_field(ep, "conditions");
	const cJSON *hints = k8s_field(ep, "hints");
	const char *node = k8s_string(ep, "nodeName");
	struct slice_endpoint *se = &ps->endpoints[ps->n_endpoints];
	const cJSON *first;
	int err;

	if (!cJSON_IsObject(ep))
		return bad_slice(invalid, slice, "endpoints[%zu] is not an object", i);
	first = cJSON_IsArray(addresses) ? cJSON_GetArrayItem(addresses, 0) : NULL;
	if (!first || !cJSON_IsString(first))
		return bad_slice(invalid, slice, "endpoints[%zu].addresses must be a non-empty list of addresses", i);
	if (socklb_addr_parse(first->valuestring, se->addr) < 0 || socklb_addr_is_v4(se->addr) != (ps->family == 4))
		return bad_slice(invalid, slice, "endpoints[%zu].addresses[0] \"%s\" is not an IPv%d address", i,
				 first->valuestring, ps->family);
	if (conditions && !cJSON_IsObject(conditions))
		return bad_slice(invalid, slice, "endpoints[%zu].conditions is not an object", i);
	/* Absent conditions mean ready, serving and not terminating (discovery/v1). */
	if (json_bool_or(k8s_field(conditions, "ready"), true, &se->ready) ||
	    json_bool_or(k8s_field(conditions, "serving"), true, &se->serving) ||
	    json_bool_or(k8s_field(conditions, "terminating"), false, &se->terminating))
		return bad_slice(invalid, slice,
				 "endpoints[%zu].conditions: ready, serving and terminating must be booleans", i);
	if (k8s_field(ep, "nodeName") && !node)
		return bad_slice(invalid, slice, "endpoints[%zu].nodeName is not a string", i);
	se->local = node && node_name && strcmp(node, node_name) == 0;
	if (hints && !cJSON_IsObject(hints))
		return bad_slice(invalid, slice, "endpoints[%zu].hints is not an object", i);
	err = parse_hints(slice, hints, "forNodes", i, &se->node_hints, invalid);
	if (!err)
		err = parse_hints(slice, hints, "forZones", i, &se->zone_hints, invalid);
	if (err)
		return err;
	ps->n_endpoints++;
	return 0;
}

int endpoint_slice_parse(const cJSON *slice, const char *node_name, struct parsed_slice *out,
			 struct invalid_list *invalid)
{
	const char *type = k8s_string(slice, "addressType");
	const cJSON *endpoints = k8s_field(slice, "endpoints");
	const cJSON *ep;
	size_t i = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->obj = slice;
	if (!type)
		return bad_slice(invalid, slice, "addressType is missing");
	if (strcmp(type, "IPv4") == 0) {
		out->family = 4;
	} else if (strcmp(type, "IPv6") == 0) {
		out->family = 6;
	} else {
		/* FQDN slices are not programmed by kube-proxy either. */
		pr_debug("EndpointSlice %s/%s: ignoring addressType %s", k8s_namespace(slice), k8s_name(slice), type);
		return 0;
	}
	err = parse_ports(slice, out, invalid);
	if (err)
		goto err;
	if (endpoints && !cJSON_IsArray(endpoints)) {
		err = bad_slice(invalid, slice, "endpoints is not a list");
		goto err;
	}
	out->endpoints = calloc(cJSON_GetArraySize(endpoints) + 1, sizeof(*out->endpoints));
	if (!out->endpoints) {
		err = -ENOMEM;
		goto err;
	}
	cJSON_ArrayForEach(ep, endpoints) {
		err = parse_endpoint(slice, ep, i++, node_name, out, invalid);
		if (err)
			goto err;
	}
	return 0;
err:
	endpoint_slice_release(out);
	return err;
}

void endpoint_slice_release(struct parsed_slice *ps)
{
	free(ps->ports);
	free(ps->endpoints);
	memset(ps, 0, sizeof(*ps));
}

struct candidate {
	struct socklb_endpoint ep;
	const struct slice_endpoint *info;
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

static bool hints_include(const cJSON *hints, const char *name)
{
	const cJSON *h;

	if (!name || !*name)
		return false;
	cJSON_ArrayForEach(h, hints) {
		if (strcmp(k8s_string(h, "name"), name) == 0)
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
		const struct slice_endpoint *e = c[i].info;

		if (!e->ready)
			continue;
		all_node = all_node && e->node_hints;
		all_zone = all_zone && e->zone_hints;
		for_node = for_node || hints_include(e->node_hints, q->node_name);
		for_zone = for_zone || hints_include(e->zone_hints, q->zone);
	}
	/* for_node and for_zone imply a ready endpoint: with none, no topology. */
	if (all_node && for_node)
		return TOPOLOGY_SAME_NODE;
	if (all_zone && for_zone)
		return TOPOLOGY_SAME_ZONE;
	return TOPOLOGY_ANY;
}

static bool available_for(const struct slice_endpoint *e, enum topology mode, const struct backend_query *q)
{
	switch (mode) {
	case TOPOLOGY_SAME_NODE:
		return hints_include(e->node_hints, q->node_name);
	case TOPOLOGY_SAME_ZONE:
		return hints_include(e->zone_hints, q->zone);
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
	const struct slice_endpoint *e = c->info;

	if (q->policy == TRAFFIC_POLICY_LOCAL && !e->local)
		return false;
	if (pick == PICK_SERVING_TERMINATING)
		return e->serving && e->terminating;
	return e->ready && available_for(e, mode, q);
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
			if (c[i].info->local && !c[k - 1].info->local)
				c[k - 1] = c[i];
			continue;
		}
		c[k++] = c[i];
	}
	return k;
}

static const struct slice_port *find_port(const struct parsed_slice *ps, const struct backend_query *q)
{
	for (size_t i = 0; i < ps->n_ports; i++) {
		if (ps->ports[i].proto == q->proto && strcmp(ps->ports[i].name, q->port_name) == 0)
			return &ps->ports[i];
	}
	return NULL;
}

int endpoint_slices_select(const struct parsed_slice *slices, size_t n_slices, const struct backend_query *q,
			   struct socklb_endpoint **out, __u32 *n)
{
	struct socklb_endpoint *eps = NULL;
	struct candidate *c;
	size_t total = 0, k = 0, picked_n;
	enum topology mode;

	*out = NULL;
	*n = 0;
	for (size_t s = 0; s < n_slices; s++)
		total += slices[s].n_endpoints;
	if (!total)
		return 0;
	c = calloc(total, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t s = 0; s < n_slices; s++) {
		const struct parsed_slice *ps = &slices[s];
		const struct slice_port *port = ps->family == q->family ? find_port(ps, q) : NULL;

		for (size_t e = 0; port && e < ps->n_endpoints; e++) {
			memcpy(c[k].ep.addr, ps->endpoints[e].addr, sizeof(c[k].ep.addr));
			c[k].ep.port = port->port;
			c[k].info = &ps->endpoints[e];
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
