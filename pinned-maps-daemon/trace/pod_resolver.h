/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which pod attachment a trace event came from. An event names the cgroup of
 * the task that made it: the pod's cgroup, or a container's below it. The
 * plugin's links (<root>/links/<attachment>/) name the pod cgroups: an event's
 * cgroup is matched to the link on it or on its nearest ancestor, through the
 * cgroups' paths (cgroup.h). The pod UID is read from kubelet's cgroup names.
 * Results are cached per cgroup id; the links are read again (at most once a
 * second) when an id is not known.
 */
#ifndef SOCKLB_POD_RESOLVER_H
#define SOCKLB_POD_RESOLVER_H

#include <linux/types.h>
#include <stddef.h>

#include "trace_filter.h"

struct pod_resolver;

/* cgroup2_mount NULL: paths cannot be read, only a pod cgroup's own id is recognised. */
int pod_resolver_new(const char *bpffs_root, const char *cgroup2_mount, struct pod_resolver **out);
void pod_resolver_free(struct pod_resolver *r);
/* The pod of this cgroup id, or NULL when no attachment is on it or above it. */
const struct trace_pod *pod_resolver_lookup(struct pod_resolver *r, __u64 cgroup_id);

/*
 * The pod UID in a kubelet cgroup path: "pod<uid>" (cgroupfs driver) or
 * "kubepods-<qos>-pod<uid with _>.slice" (systemd driver), the last such
 * component. -ENOENT when there is none.
 */
int pod_uid_from_cgroup(const char *path, char *uid, size_t len);

#endif /* SOCKLB_POD_RESOLVER_H */
