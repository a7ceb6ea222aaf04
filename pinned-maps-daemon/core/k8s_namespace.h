/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Namespace as the daemon reads it: whether its annotation socklb.io/enabled
 * opts its pods in ("true") or out ("false"), exactly, as Kubernetes booleans
 * go; any other value, or none, says neither.
 */
#ifndef SOCKLB_K8S_NAMESPACE_H
#define SOCKLB_K8S_NAMESPACE_H

#include <linux/types.h>

#include "k8s_object.h"

struct k8s_namespace {
	struct k8s_object obj;
	__u32 opt_in; /* SOCKLB_NS_OPTED_IN or _OUT, when annotated */
	__u8 annotated;
};

#endif /* SOCKLB_K8S_NAMESPACE_H */
