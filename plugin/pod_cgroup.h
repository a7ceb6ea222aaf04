/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding the pod's cgroup v2 directory (plugin/README.md "How the pod's cgroup is found"):
 *   1. runtimeConfig.cgroupPath: a full path (containerd, CRI-O with cgroupfs)
 *      or a bare systemd leaf slice (CRI-O with systemd) that is expanded;
 *   2. K8S_POD_UID: kubelet's names for the systemd and the cgroupfs drivers,
 *      every QoS class;
 *   3. else an error listing every path tried.
 * The first candidate that is an existing directory wins. Paths are relative
 * to kubelet's root: the config's cgroupRoot, else the cgroup v2 mount found
 * in /proc/self/mountinfo (a hybrid host mounts it at /sys/fs/cgroup/unified).
 */
#ifndef SOCKLB_PLUGIN_POD_CGROUP_H
#define SOCKLB_PLUGIN_POD_CGROUP_H

#include <limits.h>
#include <linux/types.h>
#include <stddef.h>

#include "cni_error.h"

/* cgroupPath (under the root and under the mount) + 3 QoS classes x 2 drivers. */
#define POD_CGROUP_MAX_CANDIDATES 8

struct pod_cgroup_query {
	const char *root; /* kubelet's root: cgroupRoot, or the cgroup v2 mount */
	const char *mount; /* the cgroup v2 mount; NULL when unknown */
	const char *cgroup_path; /* runtimeConfig.cgroupPath; NULL when not sent */
	const char *pod_uid; /* K8S_POD_UID; NULL when not sent */
};

struct pod_cgroup_candidates {
	size_t count;
	char path[POD_CGROUP_MAX_CANDIDATES][PATH_MAX];
};

struct pod_cgroup {
	int fd; /* O_RDONLY directory fd, for attaching */
	__u64 id; /* the kernel's cgroup id, for CHECK */
	char path[PATH_MAX];
};

/* Mount point of the first cgroup2 mount listed in mountinfo; -ENOENT when there is none. */
int cgroup2_mount_find(const char *mountinfo_path, char *buf, size_t len);

/*
 * "kubepods-burstable-pod<uid>.slice" →
 * "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice"
 * (systemd: each '-' in a slice name nests it in the slice named by the
 * prefix). -EINVAL for a name that is not a slice, -ENAMETOOLONG.
 */
int systemd_slice_expand(const char *leaf, char *buf, size_t len);

/* Every candidate directory, in the order they are tried. Error 7 for a bad cgroupPath. */
int pod_cgroup_candidates(const struct pod_cgroup_query *q, struct pod_cgroup_candidates *c, struct cni_error *err);

/* The first candidate that is a directory, into path; error 100 listing what was tried. */
int pod_cgroup_find(const struct pod_cgroup_query *q, char *path, size_t len, struct cni_error *err);

/*
 * Resolve and open the pod cgroup for this request: cgroup_root is the
 * config's cgroupRoot (NULL = the cgroup v2 mount). Error 100 when it cannot
 * be found, is not on cgroup v2, or cannot be opened. Close with pod_cgroup_close().
 */
int pod_cgroup_open(const char *cgroup_root, const char *cgroup_path, const char *pod_uid, struct pod_cgroup *cg,
		    struct cni_error *err);
void pod_cgroup_close(struct pod_cgroup *cg);

/* Where kubelet's hierarchy lives for this config, for STATUS: error 100 when there is no cgroup v2. */
int cgroup_root_check(const char *cgroup_root, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_POD_CGROUP_H */
