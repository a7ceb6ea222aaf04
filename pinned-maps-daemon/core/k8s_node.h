/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Node as translation reads it (the daemon's own): its zone, for
 * hints.forZones, and the addresses node ports listen on.
 */
#ifndef SOCKLB_K8S_NODE_H
#define SOCKLB_K8S_NODE_H

#include <linux/types.h>

#include "k8s_object.h"

struct k8s_node {
	struct k8s_object obj;
	const char *zone; /* label topology.kubernetes.io/zone (interned); NULL without */
	__u32 n_addrs;
	__u32 n_ignored;
	/*
	 * __be32 addrs[n_addrs][4]: status.addresses of type InternalIP and ExternalIP, unique;
	 * const char *ignored[n_ignored]: those that are not addresses, as said in the log
	 * ("of type InternalIP: \"10.0.0.999\"", interned)
	 */
};

const __be32 (*k8s_node_addrs(const struct k8s_node *node))[4];
const char *const *k8s_node_ignored(const struct k8s_node *node);

#endif /* SOCKLB_K8S_NODE_H */
