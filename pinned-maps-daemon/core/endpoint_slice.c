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

static bool has_zone_hints(const cJSON *for_zones)
{
	return cJSON_IsArray(for_zones) && cJSON_GetArraySize(for_zones) > 0;
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
	if (hints) {
		const cJSON *for_zones = k8s_field(hints, "forZones");
		const cJSON *z;

		if (for_zones && !cJSON_IsArray(for_zones))
			return bad_slice(invalid, slice, "endpoints[%zu].hints.forZones is not a list", i);
		cJSON_ArrayForEach(z, for_zones) {
			if (!k8s_string(z, "name"))
				return bad_slice(invalid, slice, "endpoints[%zu].hints.forZones[] needs a name", i);
		}
		se->zone_hints = has_zone_hints(for_zones) ? for_zones : NULL;
	}
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

static bool hints_include(const cJSON *for_zones, const char *zone)
{
	const cJSON *z;

	cJSON_ArrayForEach(z, for_zones) {
		if (strcmp(k8s_string(z, "name"), zone) == 0)
			return true;
	}
	return false;
}

/*
 * kube-proxy's canUseTopology: hints count only when every ready endpoint
 * carries them and at least one is for this node's zone; otherwise a zone
 * would be starved or traffic would pile onto hint-less endpoints.
 */
static bool use_topology(const struct candidate *c, size_t n, const char *zone)
{
	bool zone_served = false;

	if (!zone || !*zone)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!c[i].info->ready)
			continue;
		if (!c[i].info->zone_hints)
			return false;
		if (hints_include(c[i].info->zone_hints, zone))
			zone_served = true;
	}
	return zone_served;
}

enum pick {
	PICK_READY,
	PICK_SERVING_TERMINATING,
};

static bool picked(const struct candidate *c, enum pick pick, bool topology, const struct backend_query *q)
{
	const struct slice_endpoint *e = c->info;

	if (q->policy == TRAFFIC_POLICY_LOCAL && !e->local)
		return false;
	if (pick == PICK_SERVING_TERMINATING)
		return e->serving && e->terminating;
	if (!e->ready)
		return false;
	return !topology || hints_include(e->zone_hints, q->zone);
}

static size_t collect(const struct candidate *c, size_t n, enum pick pick, bool topology, const struct backend_query *q,
		      struct socklb_endpoint *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (picked(&c[i], pick, topology, q))
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
	bool topology;

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
	/* Topology hints only shape the cluster-wide choice; Local already is node-scoped. */
	topology = q->policy == TRAFFIC_POLICY_CLUSTER && use_topology(c, k, q->zone);
	picked_n = collect(c, k, PICK_READY, topology, q, eps);
	if (!picked_n)
		picked_n = collect(c, k, PICK_SERVING_TERMINATING, false, q, eps);
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
