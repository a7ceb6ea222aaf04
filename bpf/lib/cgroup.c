// SPDX-License-Identifier: Apache-2.0
/* cgroup v2 mounts and directories by id: see cgroup.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

const char *socklb_cgroup_mode_name(enum socklb_cgroup_mode mode)
{
	switch (mode) {
	case SOCKLB_CGROUP_UNIFIED:
		return "unified";
	case SOCKLB_CGROUP_HYBRID:
		return "hybrid";
	case SOCKLB_CGROUP_LEGACY:
		return "legacy-only";
	default:
		return "none";
	}
}

/* Mount points escape space, tab, newline and backslash as \ooo. */
static void mount_unescape(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < len; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			buf[o++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		} else {
			buf[o++] = s[i];
		}
	}
	buf[o] = '\0';
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER": the mount point of a cgroup2 line. */
static bool mountinfo_line(const char *line, bool *v1, char *mount, size_t len)
{
	const char *sep = strstr(line, " - "), *mnt = line, *end;
	int i;

	if (!sep)
		return false;
	if (strncmp(sep + 3, "cgroup ", 7) == 0) {
		*v1 = true;
		return false;
	}
	if (strncmp(sep + 3, "cgroup2 ", 8) != 0)
		return false;
	for (i = 0; i < 4 && mnt; i++) {
		mnt = strchr(mnt, ' ');
		if (mnt)
			mnt++;
	}
	end = mnt ? strchr(mnt, ' ') : NULL;
	if (!end || end > sep)
		return false;
	mount_unescape(mnt, (size_t)(end - mnt), mount, len);
	return true;
}

int socklb_cgroup2_mount_find(const char *mountinfo_path, struct socklb_cgroup *out, struct socklb_err *err)
{
	char *line = NULL, mount[PATH_MAX];
	bool v1 = false, v2 = false;
	size_t cap = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = fopen(mountinfo_path, "re");
	if (!f)
		return socklb_fail(err, socklb_errno(), "cannot read %s: %s", mountinfo_path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		if (!mountinfo_line(line, &v1, mount, sizeof(mount)) || v2)
			continue;
		v2 = true;
		snprintf(out->mount, sizeof(out->mount), "%s", mount);
	}
	free(line);
	fclose(f);
	out->mode = v2 ? (v1 ? SOCKLB_CGROUP_HYBRID : SOCKLB_CGROUP_UNIFIED)
		       : (v1 ? SOCKLB_CGROUP_LEGACY : SOCKLB_CGROUP_NONE);
	if (v2)
		return 0;
	return socklb_fail(err, -ENOENT, "%s lists no cgroup2 mount%s", mountinfo_path,
			   v1 ? ", only cgroup v1 hierarchies" : ", nor any cgroup v1 hierarchy");
}

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
