/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2: where it is mounted (the one reader of mountinfo), and its
 * directories by the ids the kernel reports (a cgroup link's cgroup_id,
 * bpf_get_current_cgroup_id()): a cgroup id is the kernfs node id of its
 * directory, which open_by_handle_at() takes on the cgroup2 mount
 * (CAP_DAC_READ_SEARCH). Functions return 0, an fd, or a negative errno.
 */
#ifndef SOCKLB_CGROUP_H
#define SOCKLB_CGROUP_H

#include <limits.h>
#include <linux/types.h>
#include <stddef.h>

#include "err.h"

#define SOCKLB_MOUNTINFO "/proc/self/mountinfo"

enum socklb_cgroup_mode {
	SOCKLB_CGROUP_NONE, /* no cgroup filesystem mounted */
	SOCKLB_CGROUP_LEGACY, /* cgroup v1 hierarchies only */
	SOCKLB_CGROUP_HYBRID, /* v1 controllers, and the cgroup2 hierarchy beside them */
	SOCKLB_CGROUP_UNIFIED, /* cgroup2 only */
};

struct socklb_cgroup {
	enum socklb_cgroup_mode mode;
	char mount[PATH_MAX]; /* the first cgroup2 mount point, unescaped; "" when none */
};

/* "unified", "hybrid", "legacy-only", "none". */
const char *socklb_cgroup_mode_name(enum socklb_cgroup_mode mode);

/*
 * The cgroup mounts a mountinfo file lists (SOCKLB_MOUNTINFO): 0 when a
 * cgroup2 hierarchy is mounted, -ENOENT when none is (out->mode says what
 * is), or the errno of reading the file.
 */
int socklb_cgroup2_mount_find(const char *mountinfo_path, struct socklb_cgroup *out, struct socklb_err *err);

/* Open the cgroup directory with this id (O_RDONLY | O_DIRECTORY); -ESTALE when it is gone. */
int socklb_cgroup_open_by_id(int mount_fd, __u64 id);

/* Its path relative to the mount ("/" for the root cgroup, "/kubepods/besteffort/pod<uid>"). */
int socklb_cgroup_path_by_id(int mount_fd, __u64 id, char *buf, size_t len);

#endif /* SOCKLB_CGROUP_H */
