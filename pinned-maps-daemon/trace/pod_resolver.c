// SPDX-License-Identifier: Apache-2.0
#include "pod_resolver.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "datapath.h"
#include "hashmap.h"
#include "log.h"

/* A Kubernetes UID: 36 characters, 8-4-4-4-12 hex digits. */
#define UID_LEN 36
/* Links are read again on an unknown id at most this often. */
#define RESCAN_NS 1000000000ULL

struct attachment {
	__u64 cgroup_id;
	size_t path_len; /* of pod.cgroup; 0 when its path is unknown */
	struct trace_pod pod;
};

struct pod_resolver {
	char *links; /* <root>/links */
	int mount_fd; /* the cgroup2 mount; -1: unknown */
	struct attachment *items;
	size_t n;
	struct hashmap *cache; /* cgroup id → struct attachment *, or (void *)&no_pod */
	__u64 scanned_ns;
};

static char no_pod;

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static bool uid_valid(const char *s, size_t n)
{
	if (n != UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* The UID in one path component, with systemd's '_' for '-' undone; false when none. */
static bool component_uid(const char *c, size_t n, char *uid)
{
	static const char slice[] = ".slice";
	const char *p;

	if (n == 3 + UID_LEN && strncmp(c, "pod", 3) == 0 && uid_valid(c + 3, UID_LEN)) {
		memcpy(uid, c + 3, UID_LEN);
		uid[UID_LEN] = '\0';
		return true;
	}
	if (n < sizeof(slice) - 1 + 4 + UID_LEN || strncmp(c + n - (sizeof(slice) - 1), slice, sizeof(slice) - 1) != 0)
		return false;
	p = c + n - (sizeof(slice) - 1) - UID_LEN;
	if (strncmp(p - 4, "-pod", 4) != 0)
		return false;
	for (size_t i = 0; i < UID_LEN; i++)
		uid[i] = p[i] == '_' ? '-' : p[i];
	uid[UID_LEN] = '\0';
	return uid_valid(uid, UID_LEN);
}

int pod_uid_from_cgroup(const char *path, char *uid, size_t len)
{
	char found[UID_LEN + 1];
	const char *end = path + strlen(path), *start;

	if (len < sizeof(found))
		return -ENAMETOOLONG;
	while (end > path) {
		start = end;
		while (start > path && start[-1] != '/')
			start--;
		if (end > start && component_uid(start, (size_t)(end - start), found)) {
			memcpy(uid, found, sizeof(found));
			return 0;
		}
		end = start > path ? start - 1 : path;
	}
	return -ENOENT;
}

int pod_resolver_new(const char *bpffs_root, const char *cgroup2_mount, struct pod_resolver **out)
{
	struct pod_resolver *r = calloc(1, sizeof(*r));
	int err = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->mount_fd = -1;
	if (asprintf(&r->links, "%s/links", bpffs_root) < 0) {
		r->links = NULL;
		goto err;
	}
	r->cache = hashmap_new();
	if (!r->cache)
		goto err;
	if (cgroup2_mount) {
		r->mount_fd = open(cgroup2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r->mount_fd < 0) {
			err = -errno;
			goto err;
		}
	}
	*out = r;
	return 0;
err:
	pod_resolver_free(r);
	return err;
}

void pod_resolver_free(struct pod_resolver *r)
{
	if (!r)
		return;
	hashmap_free(r->cache, NULL);
	free(r->items);
	free(r->links);
	if (r->mount_fd >= 0)
		close(r->mount_fd);
	free(r);
}

static void attachment_fill(struct pod_resolver *r, struct attachment *a, const char *name)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", r->links, name);
	a->cgroup_id = socklb_attachment_cgroup_id(dir);
	if (socklb_attachment_name_decode(name, a->pod.attachment, sizeof(a->pod.attachment)))
		snprintf(a->pod.attachment, sizeof(a->pod.attachment), "%s", name);
	if (r->mount_fd >= 0 && a->cgroup_id &&
	    socklb_cgroup_path_by_id(r->mount_fd, a->cgroup_id, a->pod.cgroup, sizeof(a->pod.cgroup)) == 0) {
		a->path_len = strlen(a->pod.cgroup);
		pod_uid_from_cgroup(a->pod.cgroup, a->pod.uid, sizeof(a->pod.uid));
	}
}

/* Read every attachment again; the cache goes with the old ones. */
static void rescan(struct pod_resolver *r)
{
	struct attachment *grown;
	struct dirent *e;
	DIR *d;

	hashmap_free(r->cache, NULL);
	r->cache = hashmap_new();
	r->n = 0;
	r->scanned_ns = monotonic_ns();
	d = opendir(r->links);
	if (!d) {
		if (errno != ENOENT)
			pr_warn("trace: cannot list the pod attachments in %s: %s", r->links, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		grown = realloc(r->items, (r->n + 1) * sizeof(*grown));
		if (!grown)
			break;
		r->items = grown;
		memset(&grown[r->n], 0, sizeof(*grown));
		attachment_fill(r, &grown[r->n], e->d_name);
		if (grown[r->n].cgroup_id)
			r->n++;
	}
	closedir(d);
}

/* The attachment on this cgroup or on its nearest ancestor. */
static struct attachment *find(struct pod_resolver *r, __u64 id)
{
	struct attachment *best = NULL;
	char path[PATH_MAX];

	for (size_t i = 0; i < r->n; i++) {
		if (r->items[i].cgroup_id == id)
			return &r->items[i];
	}
	if (r->mount_fd < 0 || socklb_cgroup_path_by_id(r->mount_fd, id, path, sizeof(path)))
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		struct attachment *a = &r->items[i];
		size_t n = a->path_len;

		if (n && strncmp(path, a->pod.cgroup, n) == 0 && (path[n] == '/' || n == 1) &&
		    (!best || n > best->path_len))
			best = a;
	}
	return best;
}

const struct trace_pod *pod_resolver_lookup(struct pod_resolver *r, __u64 cgroup_id)
{
	struct attachment *a;
	void *hit;

	if (!r->cache)
		return NULL;
	hit = hashmap_get(r->cache, &cgroup_id, sizeof(cgroup_id));
	/* Unknown, or known to have no pod when the links were read: a pod attached since may own it. */
	if ((!hit || hit == &no_pod) && monotonic_ns() - r->scanned_ns >= RESCAN_NS) {
		rescan(r);
		if (!r->cache)
			return NULL;
		hit = NULL;
	}
	if (!hit) {
		a = find(r, cgroup_id);
		hit = a ? (void *)a : (void *)&no_pod;
		/* Out of memory only costs the cache. */
		hashmap_put(r->cache, &cgroup_id, sizeof(cgroup_id), hit, NULL);
	}
	return hit == &no_pod ? NULL : &((struct attachment *)hit)->pod;
}
