// SPDX-License-Identifier: Apache-2.0
/* Loading the programs once per node, linking them to pod cgroups: see datapath.h. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "datapath.h"
#include "datapath_id.h"
#include "log.h"
#include "probe.h"
#include "socklb.skel.h"

const struct socklb_hook_desc socklb_hooks[SOCKLB_HOOK_COUNT] = {
	[SOCKLB_HOOK_CONNECT4] = { "socklb_connect4", "cgroup/connect4", BPF_CGROUP_INET4_CONNECT },
	[SOCKLB_HOOK_CONNECT6] = { "socklb_connect6", "cgroup/connect6", BPF_CGROUP_INET6_CONNECT },
	[SOCKLB_HOOK_SENDMSG4] = { "socklb_sendmsg4", "cgroup/sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	[SOCKLB_HOOK_SENDMSG6] = { "socklb_sendmsg6", "cgroup/sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
	[SOCKLB_HOOK_RECVMSG4] = { "socklb_recvmsg4", "cgroup/recvmsg4", BPF_CGROUP_UDP4_RECVMSG },
	[SOCKLB_HOOK_RECVMSG6] = { "socklb_recvmsg6", "cgroup/recvmsg6", BPF_CGROUP_UDP6_RECVMSG },
	[SOCKLB_HOOK_GETPEERNAME4] = { "socklb_getpeer4", "cgroup/getpeername4", BPF_CGROUP_INET4_GETPEERNAME },
	[SOCKLB_HOOK_GETPEERNAME6] = { "socklb_getpeer6", "cgroup/getpeername6", BPF_CGROUP_INET6_GETPEERNAME },
};

const char *socklb_datapath_id(void)
{
	static char id[32];

	if (!id[0])
		snprintf(id, sizeof(id), "v%d-%s", SOCKLB_ABI_VERSION, SOCKLB_DATAPATH_HASH);
	return id;
}

static void programs_reset(struct socklb_programs *p)
{
	int h;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++)
		p->fd[h] = -1;
	p->loaded = false;
}

void socklb_programs_close(struct socklb_programs *p)
{
	int h;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++)
		if (p->fd[h] >= 0)
			close(p->fd[h]);
	programs_reset(p);
}

static int programs_open_pins(const char *dir, struct socklb_programs *p)
{
	char path[PATH_MAX];
	int h, err;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		p->fd[h] = bpf_obj_get(path);
		if (p->fd[h] < 0) {
			err = -errno;
			socklb_programs_close(p);
			return err;
		}
	}
	return 0;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* The id of the program pinned at path; 0 when there is none. */
static __u32 pinned_prog_id(const char *path)
{
	int fd = bpf_obj_get(path);
	__u32 id;

	if (fd < 0)
		return 0;
	id = prog_id(fd);
	close(fd);
	return id;
}

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

static int mkdir_0700(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Unpin everything in dir, then remove it: 0 (also when it is gone), or the
 * first error. Every name, not only this build's hooks: another build may
 * pin other programs.
 */
static int remove_pin_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		/* bpffs refuses names with '.': these are "." and "..". */
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

/* This process's scratch directory beside the program directories: loading and pruning pass through it. */
static void scratch_dir(const char *root, char *buf, size_t len)
{
	snprintf(buf, len, "%s/prog/tmp-%d", root, (int)getpid());
}

/* Load this build's programs (creating or reusing the maps) and pin them in dir. */
static int programs_load(const char *root, const char *dir, const struct socklb_map_sizes *sizes)
{
	char tmp[PATH_MAX], path[PATH_MAX], why[256];
	struct socklb *skel;
	struct bpf_program *prog;
	int err;

	skel = socklb__open();
	if (!skel) {
		err = -errno;
		pr_err("cannot open the datapath object: %s", strerror(-err));
		return err;
	}
	/* ECONNREFUSED for services without backends needs bpf_set_retval (5.18+). */
	skel->rodata->have_set_retval = socklb_probe_set_retval(why, sizeof(why)) == 0;
	if (!skel->rodata->have_set_retval)
		pr_warn("no bpf_set_retval (%s): connects to services without endpoints fail with EPERM, "
			"not ECONNREFUSED",
			why);

	err = socklb_maps_prepare(skel->obj, root, sizes);
	if (!err)
		err = socklb__load(skel);
	if (err) {
		pr_err("cannot load the datapath programs: %s", strerror(-err));
		goto out;
	}

	/* Pin into a scratch directory, then publish it with one rename. */
	scratch_dir(root, tmp, sizeof(tmp));
	remove_pin_dir(tmp);
	err = mkdir_0700(tmp);
	if (err) {
		pr_err("cannot create %s: %s", tmp, strerror(-err));
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", tmp, bpf_program__name(prog));
		err = bpf_program__pin(prog, path);
		if (err) {
			pr_err("cannot pin program %s: %s", path, strerror(-err));
			goto out_tmp;
		}
	}
	if (rename(tmp, dir)) {
		err = -errno;
		pr_err("cannot rename %s to %s: %s", tmp, dir, strerror(-err));
		goto out_tmp;
	}
	pr_info("loaded datapath %s into %s", socklb_datapath_id(), dir);
	goto out;
out_tmp:
	remove_pin_dir(tmp);
out:
	socklb__destroy(skel);
	return err;
}

int socklb_programs_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_programs *p)
{
	char dir[PATH_MAX], progs[PATH_MAX];
	int lock, err = 0;

	programs_reset(p);
	snprintf(progs, sizeof(progs), "%s/prog", root);
	snprintf(dir, sizeof(dir), "%s/%s", progs, socklb_datapath_id());
	/* Every ADD after the first on a node: just open the pins. */
	if (programs_open_pins(dir, p) == 0)
		return 0;

	lock = socklb_root_lock(root, true);
	if (lock < 0)
		return lock;
	if (programs_open_pins(dir, p) == 0)
		goto out;
	err = mkdir_0700(progs);
	if (err) {
		pr_err("cannot create %s: %s", progs, strerror(-err));
		goto out;
	}
	err = programs_load(root, dir, sizes);
	if (!err)
		err = programs_open_pins(dir, p);
	if (!err)
		p->loaded = true;
out:
	socklb_root_unlock(lock);
	return err;
}

int socklb_programs_revalidate(const char *root, struct socklb_programs *p)
{
	char path[PATH_MAX];
	int h;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/prog/%s/%s", root, socklb_datapath_id(), socklb_hooks[h].name);
		if (pinned_prog_id(path) != prog_id(p->fd[h]))
			break;
	}
	if (h == SOCKLB_HOOK_COUNT)
		return 0;
	pr_info("datapath %s was unpinned from %s/prog after this plugin opened it (pruned by another plugin build): "
		"opening it again",
		socklb_datapath_id(), root);
	socklb_programs_close(p);
	return socklb_programs_open(root, NULL, p);
}

/* A directory under <root>/prog other than this build's, and whether a pinned link runs one of its programs. */
struct other_build {
	char name[NAME_MAX + 1];
	bool used;
};

struct build_prog {
	__u32 id;
	size_t build; /* index in other_builds.build */
};

struct other_builds {
	struct other_build *build;
	size_t count;
	struct build_prog *prog; /* every program they pin */
	size_t prog_count;
};

static void other_builds_free(struct other_builds *b)
{
	free(b->build);
	free(b->prog);
	memset(b, 0, sizeof(*b));
}

/* The directories under <root>/prog but this build's: a listing only. */
static int other_builds_list(const char *root, struct other_builds *b)
{
	struct other_build *grown;
	char dir[PATH_MAX];
	struct dirent *de;
	int err = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/prog", root);
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		pr_err("cannot list %s: %s", dir, strerror(-err));
		return err;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR || strcmp(de->d_name, socklb_datapath_id()) == 0)
			continue;
		grown = realloc(b->build, (b->count + 1) * sizeof(*grown));
		if (!grown) {
			err = -ENOMEM;
			pr_err("out of memory listing %s", dir);
			break;
		}
		b->build = grown;
		snprintf(grown[b->count].name, sizeof(grown->name), "%s", de->d_name);
		grown[b->count].used = false;
		b->count++;
	}
	closedir(d);
	return err;
}

/* The ids of the programs pinned in build i's directory, added to b->prog. */
static int other_build_read_programs(const char *root, struct other_builds *b, size_t i)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct build_prog *grown;
	struct dirent *de;
	int fd, err = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/prog/%s", root, b->build[i].name);
	d = opendir(dir);
	if (!d) {
		err = -errno;
		pr_err("cannot list %s: %s", dir, strerror(-err));
		return err;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			pr_err("cannot open the program pinned at %s: %s", path, strerror(-err));
			break;
		}
		grown = realloc(b->prog, (b->prog_count + 1) * sizeof(*grown));
		if (!grown) {
			close(fd);
			err = -ENOMEM;
			pr_err("out of memory reading %s", dir);
			break;
		}
		b->prog = grown;
		grown[b->prog_count].id = prog_id(fd);
		grown[b->prog_count].build = i;
		b->prog_count++;
		close(fd);
	}
	closedir(d);
	return err;
}

/* Mark the builds one of whose programs a pinned link runs; returns how many are still unmarked. */
static size_t other_builds_mark(struct other_builds *b, __u32 prog_id, size_t unused)
{
	size_t i;

	for (i = 0; i < b->prog_count; i++) {
		struct other_build *build = &b->build[b->prog[i].build];

		if (b->prog[i].id == prog_id && !build->used) {
			build->used = true;
			unused--;
		}
	}
	return unused;
}

/*
 * Mark every build whose programs a link pinned under <root>/links runs, until
 * all are marked. A link that cannot be read might run any of them: error.
 */
static int other_builds_mark_used(const char *root, struct other_builds *b)
{
	char links[PATH_MAX], attachment[PATH_MAX], path[PATH_MAX];
	struct bpf_link_info info;
	struct dirent *de, *le;
	size_t unused = b->count;
	DIR *top, *d;
	int err = 0;

	snprintf(links, sizeof(links), "%s/links", root);
	top = opendir(links);
	if (!top) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		pr_err("cannot list %s: %s", links, strerror(-err));
		return err;
	}
	while (!err && unused && (de = readdir(top))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(attachment, sizeof(attachment), "%s/%s", links, de->d_name);
		d = opendir(attachment);
		if (!d) {
			err = -errno;
			pr_err("cannot list %s: %s", attachment, strerror(-err));
			break;
		}
		while (unused && (le = readdir(d))) {
			if (le->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", attachment, le->d_name);
			err = pinned_link_info(path, &info);
			if (err) {
				pr_err("cannot read link %s: %s", path, strerror(-err));
				break;
			}
			unused = other_builds_mark(b, info.prog_id, unused);
		}
		closedir(d);
	}
	closedir(top);
	return err;
}

/* Move a build's directory to the scratch directory, then empty that: no one ever sees it half removed. */
static int retire_build(const char *root, const char *name)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int err;

	snprintf(dir, sizeof(dir), "%s/prog/%s", root, name);
	scratch_dir(root, tmp, sizeof(tmp));
	err = remove_pin_dir(tmp);
	if (!err && rename(dir, tmp))
		err = -errno;
	if (err) {
		pr_err("cannot move %s aside to remove it: %s", dir, strerror(-err));
		return err;
	}
	err = remove_pin_dir(tmp);
	if (err)
		pr_err("cannot remove the pins of %s (moved to %s): %s", dir, tmp, strerror(-err));
	return err;
}

int socklb_programs_prune(const char *root)
{
	struct other_builds b = { 0 };
	int lock, err, removed = 0;
	size_t i;

	/* A look without the lock first: usually this build's directory is the only one. */
	err = other_builds_list(root, &b);
	if (err || b.count == 0) {
		other_builds_free(&b);
		return err;
	}
	other_builds_free(&b);

	lock = socklb_root_lock(root, false);
	if (lock < 0)
		return lock;
	err = other_builds_list(root, &b);
	for (i = 0; !err && i < b.count; i++)
		err = other_build_read_programs(root, &b, i);
	if (!err)
		err = other_builds_mark_used(root, &b);
	for (i = 0; !err && i < b.count; i++) {
		if (b.build[i].used)
			continue;
		err = retire_build(root, b.build[i].name);
		if (!err) {
			removed++;
			pr_info("removed %s/prog/%s: no pod's link runs its programs", root, b.build[i].name);
		}
	}
	socklb_root_unlock(lock);
	other_builds_free(&b);
	return err ? err : removed;
}

int socklb_attachment_dir(const char *root, const char *container_id, const char *ifname, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *parts[2] = { container_id, ifname };
	size_t n;
	int i;

	if (!container_id || !*container_id || !ifname || !*ifname)
		return -EINVAL;
	n = (size_t)snprintf(buf, len, "%s/links/", root);
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

__u64 socklb_attachment_cgroup_id(const char *dir)
{
	char path[PATH_MAX];
	struct bpf_link_info info;

	snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[0].name);
	if (pinned_link_info(path, &info) || info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

static int links_create(const struct socklb_programs *p, int cgroup_fd, const char *dir)
{
	char path[PATH_MAX];
	int h, fd, err;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		fd = bpf_link_create(p->fd[h], cgroup_fd, socklb_hooks[h].attach_type, NULL);
		if (fd < 0) {
			err = -errno;
			if (err == -EPERM)
				pr_err("cannot link %s to the pod cgroup: %s (is a program attached above it "
				       "without BPF_F_ALLOW_MULTI?)",
				       socklb_hooks[h].name, strerror(-err));
			else
				pr_err("cannot link %s to the pod cgroup: %s", socklb_hooks[h].name, strerror(-err));
			return err;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		err = bpf_obj_pin(fd, path) ? -errno : 0;
		close(fd);
		if (err) {
			pr_err("cannot pin link %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

int socklb_attach(const struct socklb_programs *p, int cgroup_fd, const char *dir)
{
	char links[PATH_MAX], tmp[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct stat st;
	int h, err;

	snprintf(links, sizeof(links), "%s", dir);
	*strrchr(links, '/') = '\0';
	err = mkdir_0700(links);
	if (err) {
		pr_err("cannot create %s: %s", links, strerror(-err));
		return err;
	}
	if (stat(dir, &st) != 0) {
		err = mkdir_0700(dir);
		if (err) {
			pr_err("cannot create %s: %s", dir, strerror(-err));
			return err;
		}
		err = links_create(p, cgroup_fd, dir);
		if (err)
			remove_pin_dir(dir);
		return err;
	}

	/* Repeated ADD: build the new set aside, then swap each pin in. */
	snprintf(tmp, sizeof(tmp), "%s-new%d", dir, (int)getpid());
	remove_pin_dir(tmp);
	err = mkdir_0700(tmp);
	if (err)
		return err;
	err = links_create(p, cgroup_fd, tmp);
	if (err)
		goto out;
	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(from, sizeof(from), "%s/%s", tmp, socklb_hooks[h].name);
		snprintf(to, sizeof(to), "%s/%s", dir, socklb_hooks[h].name);
		if (rename(from, to)) {
			err = -errno;
			pr_err("cannot replace %s: %s", to, strerror(-err));
			goto out;
		}
	}
out:
	remove_pin_dir(tmp);
	return err;
}

int socklb_detach(const char *dir)
{
	char path[PATH_MAX];
	int h, err = 0;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		if (unlink(path) && errno != ENOENT && !err) {
			err = -errno;
			pr_err("cannot unpin %s: %s", path, strerror(-err));
		}
	}
	if (rmdir(dir) && errno != ENOENT && !err) {
		err = -errno;
		pr_err("cannot remove %s: %s", dir, strerror(-err));
	}
	return err;
}

/* The directory under <root>/prog that pins prog_id as hook h's program, its name in name; -ENOENT when none does. */
static int pinned_build_of(const char *root, int h, __u32 prog_id, char *name, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	int err = -ENOENT;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/prog", root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, de->d_name, socklb_hooks[h].name);
		if (pinned_prog_id(path) == prog_id) {
			snprintf(name, len, "%s", de->d_name);
			err = 0;
			break;
		}
	}
	closedir(d);
	return err;
}

int socklb_attachment_check(const char *root, const struct socklb_programs *p, const char *dir, __u64 want_cgroup_id,
			    struct socklb_check_report *report)
{
	char path[PATH_MAX], build[NAME_MAX + 1];
	struct bpf_link_info info;
	int h, err;

	snprintf(report->datapath, sizeof(report->datapath), "%s", socklb_datapath_id());
	report->why[0] = '\0';
	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		err = pinned_link_info(path, &info);
		if (err == -ENOENT) {
			snprintf(report->why, sizeof(report->why), "link %s is missing", path);
			return err;
		}
		if (err) {
			snprintf(report->why, sizeof(report->why), "cannot read link %s: %s", path, strerror(-err));
			return err;
		}
		if (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id == 0) {
			snprintf(report->why, sizeof(report->why), "link %s is defunct: its cgroup is gone", path);
			return -ENOLINK;
		}
		if (want_cgroup_id && info.cgroup.cgroup_id != want_cgroup_id) {
			snprintf(report->why, sizeof(report->why),
				 "link %s is attached to cgroup %llu, not the pod's %llu", path,
				 (unsigned long long)info.cgroup.cgroup_id, (unsigned long long)want_cgroup_id);
			return -ENOLINK;
		}
		if (info.prog_id == prog_id(p->fd[h]))
			continue;
		if (pinned_build_of(root, h, info.prog_id, build, sizeof(build))) {
			snprintf(report->why, sizeof(report->why),
				 "link %s runs program %u, which no datapath build under %s/prog pins as %s", path,
				 info.prog_id, root, socklb_hooks[h].name);
			return -EBADSLT;
		}
		if (strcmp(report->datapath, socklb_datapath_id()) == 0)
			snprintf(report->datapath, sizeof(report->datapath), "%s", build);
	}
	return 0;
}

int socklb_bpffs_check(const char *root)
{
	char path[PATH_MAX];
	struct statfs sfs;
	char *slash;

	snprintf(path, sizeof(path), "%s", root);
	/* The root itself may not exist yet: its nearest existing ancestor must be bpffs. */
	while (statfs(path, &sfs)) {
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			return -ENOENT;
		*slash = '\0';
	}
	return sfs.f_type == BPF_FS_MAGIC ? 0 : -ENOTSUP;
}
