/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An EndpointSlice (discovery.k8s.io/v1) as translation reads it: the
 * Service it belongs to, its ports, and per endpoint its first address, its
 * conditions, its node and its topology hints. A slice that is not what the
 * API allows keeps only the first fault (in the order translation always
 * checked: addressType, ports, endpoints) and no endpoints: translation names
 * it and uses none of its Service's slices until it is fixed.
 */
#ifndef SOCKLB_K8S_ENDPOINT_SLICE_H
#define SOCKLB_K8S_ENDPOINT_SLICE_H

#include <linux/types.h>

#include "k8s_object.h"

struct slice_port {
	const char *name; /* interned; NULL when unnamed */
	__u16 port;
	__u8 proto; /* SOCKLB_PROTO_TCP or _UDP (other protocols and nil ports are left out) */
};

#define SLICE_ENDPOINT_READY (1u << 0)
#define SLICE_ENDPOINT_SERVING (1u << 1)
#define SLICE_ENDPOINT_TERMINATING (1u << 2)

struct slice_endpoint {
	__be32 addr[4]; /* addresses[0]: the API says consumers may use only the first */
	const char *node_name; /* interned nodeName; NULL when none */
	__u32 hints; /* 1 + its index in the slice's hints; 0: neither hints.forNodes nor forZones names anything */
	__u8 conditions; /* SLICE_ENDPOINT_*; missing conditions mean ready, serving, not terminating */
};

/* An endpoint's hints: names[first, first + n_nodes) for nodes, then n_zones for zones. */
struct slice_hints {
	__u32 first;
	__u32 n_nodes;
	__u32 n_zones;
};

struct k8s_slice {
	struct k8s_object obj;
	const char *service; /* label kubernetes.io/service-name; NULL without */
	const char *fault; /* interned: what is wrong with it; NULL when it is fine */
	double trigger_time; /* annotation endpoints.kubernetes.io/last-change-trigger-time, when has_trigger_time */
	__u32 n_ports;
	__u32 n_endpoints;
	__u32 n_hints;
	__u32 n_hint_names;
	/* addressType: 4, 6, or 0 for one kube-proxy ignores (FQDN) or none; no ports nor endpoints with 0 */
	__u8 family;
	__u8 has_trigger_time;
	/*
	 * struct slice_port ports[n_ports], struct slice_endpoint endpoints[n_endpoints],
	 * struct slice_hints hints[n_hints], const char *hint_names[n_hint_names] (interned)
	 */
};

const struct slice_port *k8s_slice_ports(const struct k8s_slice *s);
const struct slice_endpoint *k8s_slice_endpoints(const struct k8s_slice *s);
/* The endpoint's hints, or NULL. */
const struct slice_hints *k8s_slice_endpoint_hints(const struct k8s_slice *s, const struct slice_endpoint *e);
const char *const *k8s_slice_hint_names(const struct k8s_slice *s);

#endif /* SOCKLB_K8S_ENDPOINT_SLICE_H */
