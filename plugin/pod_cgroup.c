// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "pod_cgroup.h"

/* QoS classes as kubelet names them; Guaranteed pods sit directly under kubepods. */
static const char *const qos_classes[] = { "burstable", "besteffort", NULL };

int systemd_slice_expand(const char *leaf, char *buf, size_t len)
{
	static const char suffix[] = ".slice";
	size_t n = strlen(leaf), stem, i, off = 0;
	int w;

	if (n <= sizeof(suffix) - 1 || strcmp(leaf + n - (sizeof(suffix) - 1), suffix) != 0 || strchr(leaf, '/'))
		return -EINVAL;
	stem = n - (sizeof(suffix) - 1);
	/* systemd refuses "-x.slice", "x-.slice" and "x--y.slice". */
	if (leaf[0] == '-' || leaf[stem - 1] == '-' || strstr(leaf, "--"))
		return -EINVAL;

	for (i = 0; i <= stem; i++) {
		if (i < stem && leaf[i] != '-')
			continue;
		w = snprintf(buf + off, len - off, "/%.*s%s", (int)i, leaf, suffix);
		if (w < 0 || (size_t)w >= len - off)
			return -ENAMETOOLONG;
		off += (size_t)w;
	}
	return 0;
}

static bool has_dotdot(const char *path)
{
	const char *p;

	for (p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

static int add_candidate(struct pod_cgroup_candidates *c, const char *base, const char *rel)
{
	char path[PATH_MAX];
	size_t i;

	/* "/" as root would give "//kubepods": keep paths tidy for the error text. */
	if (snprintf(path, sizeof(path), "%s%s%s", strcmp(base, "/") ? base : "", rel[0] == '/' ? "" : "/", rel) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	for (i = 0; i < c->count; i++)
		if (strcmp(c->path[i], path) == 0)
			return 0;
	if (c->count == POD_CGROUP_MAX_CANDIDATES)
		return -E2BIG;
	memcpy(c->path[c->count++], path, strlen(path) + 1);
	return 0;
}

static int add_cgroup_path(const struct pod_cgroup_query *q, struct pod_cgroup_candidates *c, struct cni_error *err)
{
	char expanded[PATH_MAX];
	const char *rel = q->cgroup_path;
	int ret;

	if (has_dotdot(rel))
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid network configuration: runtimeConfig.cgroupPath",
				"\"%s\" must not contain a \"..\" component", rel);
	if (!strchr(rel, '/')) {
		ret = systemd_slice_expand(rel, expanded, sizeof(expanded));
		if (ret == 0)
			rel = expanded;
	}
	ret = add_candidate(c, q->root, rel);
	/* A full path from the runtime is relative to the cgroup v2 mount, whatever cgroupRoot says. */
	if (!ret && q->mount && rel[0] == '/')
		ret = add_candidate(c, q->mount, rel);
	if (ret)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid network configuration: runtimeConfig.cgroupPath",
				"\"%s\": %s", q->cgroup_path, strerror(-ret));
	return 0;
}

/* kubelet's names: systemd slices (UID with '_' for '-') and cgroupfs directories. */
static int add_pod_uid(const struct pod_cgroup_query *q, struct pod_cgroup_candidates *c)
{
	char uid_[160], rel[PATH_MAX];
	const char *const *qos;
	size_t i;
	int ret = 0;

	if (snprintf(uid_, sizeof(uid_), "%s", q->pod_uid) >= (int)sizeof(uid_))
		return -ENAMETOOLONG;
	for (i = 0; uid_[i]; i++)
		if (uid_[i] == '-')
			uid_[i] = '_';

	for (qos = qos_classes; *qos && !ret; qos++) {
		snprintf(rel, sizeof(rel), "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice", *qos, *qos,
			 uid_);
		ret = add_candidate(c, q->root, rel);
	}
	snprintf(rel, sizeof(rel), "/kubepods.slice/kubepods-pod%s.slice", uid_);
	ret = ret ?: add_candidate(c, q->root, rel);
	for (qos = qos_classes; *qos && !ret; qos++) {
		snprintf(rel, sizeof(rel), "/kubepods/%s/pod%s", *qos, q->pod_uid);
		ret = add_candidate(c, q->root, rel);
	}
	snprintf(rel, sizeof(rel), "/kubepods/pod%s", q->pod_uid);
	return ret ?: add_candidate(c, q->root, rel);
}

int pod_cgroup_candidates(const struct pod_cgroup_query *q, struct pod_cgroup_candidates *c, struct cni_error *err)
{
	int ret;

	c->count = 0;
	if (q->cgroup_path && add_cgroup_path(q, c, err))
		return -1;
	if (q->pod_uid) {
		ret = add_pod_uid(q, c);
		if (ret)
			return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS", "K8S_POD_UID \"%s\": %s",
					q->pod_uid, strerror(-ret));
	}
	return 0;
}

int pod_cgroup_find(const struct pod_cgroup_query *q, char *path, size_t len, struct cni_error *err)
{
	struct pod_cgroup_candidates *c;
	char tried[CNI_ERROR_DETAILS_LEN];
	const char *why;
	size_t i, off = 0;
	struct stat st;
	bool found;
	int ret = -1;

	c = malloc(sizeof(*c));
	if (!c)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "listing pod cgroup candidates");
	if (pod_cgroup_candidates(q, c, err))
		goto out;
	if (c->count == 0) {
		cni_fail(err, SOCKLB_ERR_CGROUP, "cannot find the pod cgroup",
			 "neither runtimeConfig.cgroupPath (capability cgroupPath) nor K8S_POD_UID in CNI_ARGS was "
			 "given");
		goto out;
	}
	tried[0] = '\0';
	for (i = 0; i < c->count; i++) {
		found = stat(c->path[i], &st) == 0;
		why = found ? "not a directory" : strerror(errno);
		if (found && S_ISDIR(st.st_mode)) {
			if (snprintf(path, len, "%s", c->path[i]) >= (int)len) {
				cni_fail(err, SOCKLB_ERR_CGROUP, "cannot find the pod cgroup", "%s: path too long",
					 c->path[i]);
				goto out;
			}
			ret = 0;
			goto out;
		}
		if (off < sizeof(tried))
			off += snprintf(tried + off, sizeof(tried) - off, "%s%s (%s)", i ? ", " : "", c->path[i], why);
	}
	cni_fail(err, SOCKLB_ERR_CGROUP, "cannot find the pod cgroup", "tried %s", tried);
out:
	free(c);
	return ret;
}

/* The id bpf_link_info reports for a cgroup link: the kernfs node id, read through a file handle. */
static int cgroup_id(const char *path, __u64 *id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(__u64)];
	} h;
	int mount_id;

	h.fh.handle_bytes = sizeof(__u64);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

static int is_cgroup2(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	return sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* kubelet's root: the config's cgroupRoot, else the cgroup v2 mount (into mount). NULL on error. */
static const char *kubelet_root(const char *cgroup_root, struct socklb_cgroup *cg, struct cni_error *err)
{
	struct socklb_err why;
	int ret = socklb_cgroup2_mount_find(SOCKLB_MOUNTINFO, cg, &why);

	if (ret && ret != -ENOENT) {
		cni_fail(err, SOCKLB_ERR_CGROUP, "cannot find the cgroup v2 mount", "%s", why.msg);
		return NULL;
	}
	if (cgroup_root)
		return cgroup_root;
	if (ret) {
		cni_fail(err, SOCKLB_ERR_CGROUP, "cgroup v2 is not mounted",
			 "%s (socklb needs cgroup v2; set cgroupRoot if it is elsewhere)", why.msg);
		return NULL;
	}
	return cg->mount;
}

int pod_cgroup_open(const char *cgroup_root, const char *cgroup_path, const char *pod_uid, struct pod_cgroup *cg,
		    struct cni_error *err)
{
	struct pod_cgroup_query q = { .cgroup_path = cgroup_path, .pod_uid = pod_uid };
	struct socklb_cgroup mounts;
	int ret;

	cg->fd = -1;
	q.root = kubelet_root(cgroup_root, &mounts, err);
	if (!q.root)
		return -1;
	q.mount = mounts.mount[0] ? mounts.mount : NULL;
	if (pod_cgroup_find(&q, cg->path, sizeof(cg->path), err))
		return -1;

	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0)
		return cni_fail(err, SOCKLB_ERR_CGROUP, "cannot open the pod cgroup", "%s: %s", cg->path,
				strerror(errno));
	ret = is_cgroup2(cg->fd);
	if (ret <= 0) {
		cni_fail(err, SOCKLB_ERR_CGROUP, "the pod cgroup is not on cgroup v2", "%s: %s", cg->path,
			 ret ? strerror(-ret) : "not a cgroup2 filesystem (check cgroupRoot)");
		goto fail;
	}
	ret = cgroup_id(cg->path, &cg->id);
	if (ret) {
		cni_fail(err, SOCKLB_ERR_CGROUP, "cannot read the pod cgroup id", "%s: %s", cg->path, strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	pod_cgroup_close(cg);
	return -1;
}

void pod_cgroup_close(struct pod_cgroup *cg)
{
	if (cg->fd >= 0)
		close(cg->fd);
	cg->fd = -1;
}

int cgroup_root_check(const char *cgroup_root, struct cni_error *err)
{
	struct socklb_cgroup mounts;
	const char *root;
	int fd, ret;

	root = kubelet_root(cgroup_root, &mounts, err);
	if (!root)
		return -1;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cni_fail(err, SOCKLB_ERR_CGROUP, "the cgroup root is unusable", "%s: %s", root, strerror(errno));
	ret = is_cgroup2(fd);
	close(fd);
	if (ret <= 0)
		return cni_fail(err, SOCKLB_ERR_CGROUP, "the cgroup root is not on cgroup v2", "%s: %s", root,
				ret ? strerror(-ret) : "not a cgroup2 filesystem");
	return 0;
}
