/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 directories by the ids the kernel reports (a cgroup link's
 * cgroup_id, bpf_get_current_cgroup_id()): a cgroup id is the kernfs node id
 * of its directory, which open_by_handle_at() takes on the cgroup2 mount
 * (CAP_DAC_READ_SEARCH). Functions return 0, an fd, or a negative errno.
 */
#ifndef SOCKLB_CGROUP_H
#define SOCKLB_CGROUP_H

#include <linux/types.h>
#include <stddef.h>

/* Open the cgroup directory with this id (O_RDONLY | O_DIRECTORY); -ESTALE when it is gone. */
int socklb_cgroup_open_by_id(int mount_fd, __u64 id);

/* Its path relative to the mount ("/" for the root cgroup, "/kubepods/besteffort/pod<uid>"). */
int socklb_cgroup_path_by_id(int mount_fd, __u64 id, char *buf, size_t len);

#endif /* SOCKLB_CGROUP_H */
