/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The choice of backends for one service port, as kube-proxy makes it: merge
 * every EndpointSlice of the service (k8s_endpoint_slice.h), dedupe by
 * IP:port, then pick as kube-proxy's CategorizeEndpoints does
 * (pkg/proxy/topology.go): ready endpoints, narrowed by topology hints
 * (hints.forNodes, else hints.forZones) for internalTrafficPolicy Cluster or
 * to this node's for Local; when none is ready, serving and terminating ones
 * (hints ignored).
 */
#ifndef SOCKLB_ENDPOINT_SLICE_H
#define SOCKLB_ENDPOINT_SLICE_H

#include <stddef.h>

#include "k8s_endpoint_slice.h"
#include "lbmap.h"

enum traffic_policy {
	TRAFFIC_POLICY_CLUSTER,
	TRAFFIC_POLICY_LOCAL,
};

struct backend_query {
	const char *port_name; /* the service port's name (interned), NULL when unnamed */
	__u8 proto;
	int family; /* 4 or 6: a frontend only gets backends of its own family */
	enum traffic_policy policy;
	const char *node_name; /* the daemon's node, for nodeName and hints.forNodes; NULL when unknown */
	const char *zone; /* its zone, for hints.forZones; NULL when unknown */
};

/* The backends for q from valid slices, sorted and unique; *out is malloc'ed (NULL when *n is 0). */
int endpoint_slices_select(const struct k8s_slice *const *slices, size_t n_slices, const struct backend_query *q,
			   struct socklb_endpoint **out, __u32 *n);

#endif /* SOCKLB_ENDPOINT_SLICE_H */
