// SPDX-License-Identifier: Apache-2.0
/* cgroup v2 directories by id: see cgroup.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

/* The handle type of kernfs nodes (include/linux/exportfs.h; not in the UAPI headers). */
#define FILEID_KERNFS 0xfe

int socklb_cgroup_open_by_id(int mount_fd, __u64 id)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(__u64)];
	} h;
	int fd;

	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int socklb_cgroup_path_by_id(int mount_fd, __u64 id, char *buf, size_t len)
{
	char link[64], mount[PATH_MAX], path[PATH_MAX];
	ssize_t n, m;
	int fd, err = 0;

	fd = socklb_cgroup_open_by_id(mount_fd, id);
	if (fd < 0)
		return fd;
	/* Both ends through /proc: the mount as this process sees it, then the cgroup below it. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", mount_fd);
	m = readlink(link, mount, sizeof(mount) - 1);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (m < 0 || n < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	mount[m] = '\0';
	path[n] = '\0';
	if (strcmp(mount, "/") == 0)
		m = 0;
	if (strncmp(path, mount, (size_t)m) != 0 || (path[m] != '/' && path[m] != '\0'))
		return -EXDEV;
	if (snprintf(buf, len, "%s", path[m] ? path + m : "/") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}
