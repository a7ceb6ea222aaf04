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
#include "socklb.skel.h"

const struct socklb_hook_desc socklb_hooks[SOCKLB_HOOK_COUNT] = {
	[SOCKLB_HOOK_CONNECT4] = { "socklb_connect4", BPF_CGROUP_INET4_CONNECT },
	[SOCKLB_HOOK_CONNECT6] = { "socklb_connect6", BPF_CGROUP_INET6_CONNECT },
	[SOCKLB_HOOK_SENDMSG4] = { "socklb_sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	[SOCKLB_HOOK_SENDMSG6] = { "socklb_sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
	[SOCKLB_HOOK_RECVMSG4] = { "socklb_recvmsg4", BPF_CGROUP_UDP4_RECVMSG },
	[SOCKLB_HOOK_RECVMSG6] = { "socklb_recvmsg6", BPF_CGROUP_UDP6_RECVMSG },
	[SOCKLB_HOOK_GETPEERNAME4] = { "socklb_getpeer4", BPF_CGROUP_INET4_GETPEERNAME },
	[SOCKLB_HOOK_GETPEERNAME6] = { "socklb_getpeer6", BPF_CGROUP_INET6_GETPEERNAME },
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

static void remove_pins(const char *dir)
{
	char path[PATH_MAX];
	int h;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		unlink(path);
	}
	rmdir(dir);
}

/* Load this build's programs (creating or reusing the maps) and pin them in dir. */
static int programs_load(const char *root, const char *dir, const struct socklb_map_sizes *sizes)
{
	char tmp[PATH_MAX], path[PATH_MAX];
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
	skel->rodata->have_set_retval =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval, NULL) == 1;
	if (!skel->rodata->have_set_retval)
		pr_warn("kernel lacks bpf_set_retval: connects to services without endpoints fail with EPERM, "
			"not ECONNREFUSED");

	err = socklb_maps_prepare(skel->obj, root, sizes);
	if (!err)
		err = socklb__load(skel);
	if (err) {
		pr_err("cannot load the datapath programs: %s", strerror(-err));
		goto out;
	}

	/* Pin into a scratch directory, then publish it with one rename. */
	snprintf(tmp, sizeof(tmp), "%s/prog/tmp-%d", root, (int)getpid());
	remove_pins(tmp);
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
	remove_pins(tmp);
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
			remove_pins(dir);
		return err;
	}

	/* Repeated ADD: build the new set aside, then swap each pin in. */
	snprintf(tmp, sizeof(tmp), "%s-new%d", dir, (int)getpid());
	remove_pins(tmp);
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
	remove_pins(tmp);
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
