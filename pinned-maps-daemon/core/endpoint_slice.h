/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EndpointSlices (discovery.k8s.io/v1) as kube-proxy reads them, and the
 * choice of backends for one service port: merge every slice of the service,
 * dedupe by IP:port, then pick as kube-proxy's CategorizeEndpoints does
 * (pkg/proxy/topology.go): ready endpoints, narrowed by topology hints
 * (hints.forNodes, else hints.forZones) for internalTrafficPolicy Cluster or
 * to this node's for Local; when none is ready, serving and terminating ones
 * (hints ignored).
 */
#ifndef SOCKLB_ENDPOINT_SLICE_H
#define SOCKLB_ENDPOINT_SLICE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "invalid_object.h"
#include "lbmap.h"

struct slice_port {
	const char *name; /* "" when unnamed */
	__u8 proto;
	__u16 port;
};

struct slice_endpoint {
	__be32 addr[4]; /* addresses[0]: the API says consumers may use only the first */
	bool ready;
	bool serving;
	bool terminating;
	bool local; /* nodeName is the daemon's node */
	const cJSON *node_hints; /* hints.forNodes, NULL when absent or empty */
	const cJSON *zone_hints; /* hints.forZones, NULL when absent or empty */
};

struct parsed_slice {
	const cJSON *obj;
	int family; /* 4, 6, or 0 for address types kube-proxy ignores (FQDN) */
	size_t n_ports;
	struct slice_port *ports;
	size_t n_endpoints;
	struct slice_endpoint *endpoints;
};

/*
 * Parse and validate one slice; -EINVAL when malformed, logged with the field
 * and added to invalid (may be NULL).
 */
int endpoint_slice_parse(const cJSON *slice, const char *node_name, struct parsed_slice *out,
			 struct invalid_list *invalid);
void endpoint_slice_release(struct parsed_slice *ps);

enum traffic_policy {
	TRAFFIC_POLICY_CLUSTER,
	TRAFFIC_POLICY_LOCAL,
};

struct backend_query {
	const char *port_name; /* the service port's name, "" when unnamed */
	__u8 proto;
	int family; /* 4 or 6: a frontend only gets backends of its own family */
	enum traffic_policy policy;
	const char *node_name; /* the daemon's node, for hints.forNodes; NULL when unknown */
	const char *zone; /* its zone, for hints.forZones; NULL when unknown */
};

/* The backends for q, sorted and unique; *out is malloc'ed (NULL when *n is 0). */
int endpoint_slices_select(const struct parsed_slice *slices, size_t n_slices, const struct backend_query *q,
			   struct socklb_endpoint **out, __u32 *n);

#endif /* SOCKLB_ENDPOINT_SLICE_H */
