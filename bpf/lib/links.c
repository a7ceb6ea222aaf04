// SPDX-License-Identifier: Apache-2.0
/* The pods' links under <root>/links: see links.h. */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datapath.h"
#include "fsutil.h"
#include "links.h"

#define LINKS_DIR "links"

int socklb_links_lock(const char *root, bool create, struct socklb_err *err)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/" LINKS_DIR, root) >= (int)sizeof(path))
		return socklb_fail(err, -ENAMETOOLONG, "%s/" LINKS_DIR ": path too long", root);
	return socklb_dir_lock(path, create, false, err);
}

void socklb_links_unlock(int fd)
{
	socklb_dir_unlock(fd);
}

/* ---- names ----------------------------------------------------------------- */

int socklb_attachment_dir(const char *root, const char *container_id, const char *ifname, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *parts[2] = { container_id, ifname };
	size_t n;
	int i;

	if (!container_id || !*container_id || !ifname || !*ifname)
		return -EINVAL;
	n = (size_t)snprintf(buf, len, "%s/" LINKS_DIR "/", root);
	/*
	 * "<container id>_-<ifname>", each part with every character but
	 * [A-Za-z0-9-] written as _XX: one name per attachment (no two pairs
	 * meet), and nothing bpffs refuses ('.') or that leaves the directory.
	 */
	for (i = 0; i < 2; i++) {
		const char *p;

		if (i == 1) {
			if (n + 2 >= len)
				return -ENAMETOOLONG;
			buf[n++] = '_';
			buf[n++] = '-';
		}
		for (p = parts[i]; *p; p++) {
			unsigned char c = (unsigned char)*p;
			bool plain =
				(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';

			if (n + (plain ? 1 : 3) >= len)
				return -ENAMETOOLONG;
			if (plain) {
				buf[n++] = (char)c;
			} else {
				buf[n++] = '_';
				buf[n++] = hex[c >> 4];
				buf[n++] = hex[c & 15];
			}
		}
	}
	buf[n] = '\0';
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int socklb_attachment_name_decode(const char *name, char *buf, size_t len)
{
	const char *sep = strstr(name, "_-");
	size_t n = 0;
	int hi, lo;

	if (!sep || sep == name || !sep[2])
		return -EINVAL;
	for (const char *p = name; *p; p++) {
		char c = *p;

		if (p == sep) {
			c = '/';
			p++;
		} else if (c == '_') {
			hi = hex_value(p[1]);
			lo = hi < 0 ? -1 : hex_value(p[2]);
			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* ---- one attachment ---------------------------------------------------------- */

/* What the link pinned at path is: 0, or the errno of opening or reading it. */
static int pinned_link_info(const char *path, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	int fd, err = 0;

	memset(info, 0, sizeof(*info));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

int socklb_attachment_link_info(const char *dir, struct bpf_link_info *info)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[0].name);
	return pinned_link_info(path, info);
}

__u64 socklb_attachment_cgroup_id(const char *dir)
{
	struct bpf_link_info info;

	if (socklb_attachment_link_info(dir, &info) || info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

static int links_create(const struct socklb_programs *p, int cgroup_fd, const char *dir, struct socklb_err *err)
{
	char path[PATH_MAX];
	int h, fd, ret;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		fd = bpf_link_create(p->fd[h], cgroup_fd, socklb_hooks[h].attach_type, NULL);
		if (fd < 0)
			return socklb_fail(err, socklb_errno(), "cannot link %s to the pod cgroup: %s%s",
					   socklb_hooks[h].name, strerror(errno),
					   errno == EPERM
						   ? " (another agent may have attached a program to an ancestor "
						     "cgroup without BPF_F_ALLOW_MULTI)"
						   : "");
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		ret = bpf_obj_pin(fd, path) ? socklb_errno() : 0;
		close(fd);
		if (ret)
			return socklb_fail(err, ret, "cannot pin the link %s: %s", path, strerror(-ret));
	}
	return 0;
}

int socklb_attach(const struct socklb_programs *p, int cgroup_fd, const char *dir, struct socklb_err *err)
{
	char tmp[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct stat st;
	int h, ret;

	if (stat(dir, &st) != 0) {
		ret = socklb_mkdir(dir, 0700, true, err);
		if (ret)
			return ret;
		ret = links_create(p, cgroup_fd, dir, err);
		if (ret)
			socklb_dir_remove(dir, NULL);
		return ret;
	}

	/* Repeated ADD: build the new set aside, then swap each pin in. */
	snprintf(tmp, sizeof(tmp), "%s-new%d", dir, (int)getpid());
	socklb_dir_remove(tmp, NULL);
	ret = socklb_mkdir(tmp, 0700, false, err);
	if (ret)
		return ret;
	ret = links_create(p, cgroup_fd, tmp, err);
	for (h = 0; !ret && h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(from, sizeof(from), "%s/%s", tmp, socklb_hooks[h].name);
		snprintf(to, sizeof(to), "%s/%s", dir, socklb_hooks[h].name);
		if (rename(from, to))
			ret = socklb_fail(err, socklb_errno(), "cannot replace %s: %s", to, strerror(errno));
	}
	socklb_dir_remove(tmp, NULL);
	return ret;
}

int socklb_detach(const char *dir, struct socklb_err *err)
{
	char path[PATH_MAX];
	int h, ret = 0;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		if (unlink(path) && errno != ENOENT && !ret)
			ret = socklb_fail(err, socklb_errno(), "cannot unpin %s: %s", path, strerror(errno));
	}
	if (rmdir(dir) && errno != ENOENT && !ret)
		ret = socklb_fail(err, socklb_errno(), "cannot remove %s: %s", dir, strerror(errno));
	return ret;
}

int socklb_attachment_check(const char *root, const struct socklb_programs *p, const char *dir, __u64 want_cgroup_id,
			    char *datapath, size_t len, struct socklb_err *err)
{
	char path[PATH_MAX], build[NAME_MAX + 1];
	struct bpf_link_info info;
	int h, ret;

	snprintf(datapath, len, "%s", socklb_datapath_id());
	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		ret = pinned_link_info(path, &info);
		if (ret == -ENOENT)
			return socklb_fail(err, ret, "link %s is missing", path);
		if (ret)
			return socklb_fail(err, ret, "cannot read link %s: %s", path, strerror(-ret));
		if (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id == 0)
			return socklb_fail(err, -ENOLINK, "link %s is defunct: its cgroup is gone", path);
		if (want_cgroup_id && info.cgroup.cgroup_id != want_cgroup_id)
			return socklb_fail(err, -ENOLINK, "link %s is attached to cgroup %llu, not the pod's %llu",
					   path, (unsigned long long)info.cgroup.cgroup_id,
					   (unsigned long long)want_cgroup_id);
		if (info.prog_id == socklb_prog_id(p->fd[h]))
			continue;
		if (socklb_build_of_program(root, h, info.prog_id, build, sizeof(build)))
			return socklb_fail(err, -EBADSLT,
					   "link %s runs program %u, which no datapath build under %s/prog pins as %s",
					   path, info.prog_id, root, socklb_hooks[h].name);
		if (strcmp(datapath, socklb_datapath_id()) == 0)
			snprintf(datapath, len, "%s", build);
	}
	return 0;
}

/* ---- every attachment -------------------------------------------------------- */

int socklb_attachments_foreach(const char *root, socklb_attachment_cb cb, void *ctx, struct socklb_err *err)
{
	char links[PATH_MAX], dir[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(links, sizeof(links), "%s/" LINKS_DIR, root);
	d = opendir(links);
	if (!d)
		return errno == ENOENT ? 0
				       : socklb_fail(err, socklb_errno(), "cannot list %s: %s", links, strerror(errno));
	while (!ret && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", links, de->d_name);
		ret = cb(de->d_name, dir, ctx);
	}
	closedir(d);
	return ret;
}

struct sweep {
	char **keep; /* directory names, as socklb_attachment_dir() spells them; NULL entries match nothing */
	size_t n_keep;
	struct socklb_gc_result *res;
	char failed[SOCKLB_ERR_MSG_LEN];
	size_t failed_len;
};

static int sweep_one(const char *name, const char *dir, void *ctx)
{
	struct sweep *s = ctx;
	struct socklb_err why;

	for (size_t i = 0; i < s->n_keep; i++) {
		if (s->keep[i] && strcmp(s->keep[i], name) == 0) {
			s->res->kept++;
			return 0;
		}
	}
	if (socklb_detach(dir, &why) == 0) {
		s->res->removed++;
		return 0;
	}
	s->res->failed++;
	if (s->failed_len < sizeof(s->failed))
		s->failed_len += (size_t)snprintf(s->failed + s->failed_len, sizeof(s->failed) - s->failed_len, "%s%s",
						  s->failed_len ? "; " : "", why.msg);
	return 0;
}

/* The directory names of the attachments to keep; an entry we cannot even name cannot match one of ours. */
static char **keep_names(const char *root, const struct socklb_attachment_ref *keep, size_t n)
{
	char path[PATH_MAX], **names = calloc(n + 1, sizeof(*names));

	if (!names)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (socklb_attachment_dir(root, keep[i].container_id, keep[i].ifname, path, sizeof(path)))
			continue;
		names[i] = strdup(strrchr(path, '/') + 1);
		if (!names[i]) {
			for (size_t j = 0; j < i; j++)
				free(names[j]);
			free(names);
			return NULL;
		}
	}
	return names;
}

int socklb_attachments_gc(const char *root, const struct socklb_attachment_ref *keep, size_t n_keep,
			  struct socklb_gc_result *res, struct socklb_err *err)
{
	struct sweep s = { .n_keep = n_keep, .res = res };
	int lock, ret, pruned;

	memset(res, 0, sizeof(*res));
	res->failed_step = SOCKLB_GC_LOCK;
	lock = socklb_links_lock(root, false, err);
	if (lock == -ENOENT)
		return 0;
	if (lock < 0)
		return lock;
	res->failed_step = SOCKLB_GC_SWEEP;
	s.keep = keep_names(root, keep, n_keep);
	if (!s.keep) {
		socklb_links_unlock(lock);
		return socklb_fail(err, -ENOMEM, "out of memory listing the attachments to keep");
	}
	ret = socklb_attachments_foreach(root, sweep_one, &s, err);
	for (size_t i = 0; i < n_keep; i++)
		free(s.keep[i]);
	free(s.keep);
	if (!ret && res->failed)
		ret = socklb_fail(err, -EBUSY, "%zu stale attachment(s) could not be removed: %s", res->failed,
				  s.failed);
	/* With the stale links gone, so go the older datapath builds no remaining link runs (a failed one keeps its own). */
	pruned = socklb_programs_prune(root, ret ? NULL : err);
	if (pruned >= 0)
		res->builds_removed = (size_t)pruned;
	else if (!ret)
		ret = pruned;
	if (!ret)
		res->failed_step = SOCKLB_GC_DONE;
	else if (!res->failed)
		res->failed_step = SOCKLB_GC_PRUNE;
	socklb_links_unlock(lock);
	return ret;
}

/* ---- pruning older builds' programs -------------------------------------------- */

struct mark {
	struct socklb_build *builds;
	size_t n;
	bool *used;
	size_t unused;
	struct socklb_err *err;
};

/* Mark the builds one of whose programs the attachment's links run; stop (1) once every build is marked. */
static int mark_used(const char *name, const char *dir, void *ctx)
{
	struct mark *m = ctx;
	char path[PATH_MAX];
	struct bpf_link_info info;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	(void)name;
	d = opendir(dir);
	if (!d)
		return socklb_fail(m->err, socklb_errno(), "cannot list %s: %s", dir, strerror(errno));
	while (m->unused && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ret = pinned_link_info(path, &info);
		if (ret) {
			socklb_fail(m->err, ret, "cannot read the link %s: %s", path, strerror(-ret));
			break;
		}
		for (size_t b = 0; b < m->n; b++) {
			for (size_t i = 0; !m->used[b] && i < m->builds[b].n_progs; i++) {
				if (m->builds[b].prog_ids[i] == info.prog_id) {
					m->used[b] = true;
					m->unused--;
				}
			}
		}
	}
	closedir(d);
	if (ret)
		return ret;
	return m->unused ? 0 : 1;
}

int socklb_programs_prune(const char *root, struct socklb_err *err)
{
	struct mark m = { 0 };
	int lock, ret, removed = 0;

	/* A look without the lock first: usually this build's directory is the only one. */
	ret = socklb_builds_list(root, false, &m.builds, &m.n, err);
	socklb_builds_free(m.builds, m.n);
	if (ret || m.n == 0)
		return ret;

	lock = socklb_dir_lock(root, false, false, err);
	if (lock < 0)
		return lock;
	ret = socklb_builds_list(root, true, &m.builds, &m.n, err);
	if (ret)
		goto out;
	m.used = calloc(m.n ? m.n : 1, sizeof(*m.used));
	if (!m.used) {
		ret = socklb_fail(err, -ENOMEM, "out of memory pruning %s/prog", root);
		goto out;
	}
	m.unused = m.n;
	m.err = err;
	/* A link that cannot be read might run any of them: then none is removed. */
	ret = socklb_attachments_foreach(root, mark_used, &m, err);
	if (ret > 0)
		ret = 0;
	for (size_t b = 0; !ret && b < m.n; b++) {
		if (m.used[b])
			continue;
		ret = socklb_build_remove(root, m.builds[b].name, err);
		if (!ret)
			removed++;
	}
out:
	socklb_dir_unlock(lock);
	socklb_builds_free(m.builds, m.n);
	free(m.used);
	return ret ? ret : removed;
}
