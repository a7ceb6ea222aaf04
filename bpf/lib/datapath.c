// SPDX-License-Identifier: Apache-2.0
/* Loading the programs once per node, one directory per build: see datapath.h. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "datapath.h"
#include "datapath_id.h"
#include "fsutil.h"
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

__u32 socklb_prog_id(int fd)
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
	id = socklb_prog_id(fd);
	close(fd);
	return id;
}

/* This process's scratch directory beside the program directories: loading and removing pass through it. */
static void scratch_dir(const char *root, char *buf, size_t len)
{
	snprintf(buf, len, "%s/prog/tmp-%d", root, (int)getpid());
}

/* Pin every program of obj into a scratch directory, then publish it as dir with one rename. */
static int programs_publish(const char *root, struct bpf_object *obj, const char *dir, struct socklb_err *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct bpf_program *prog;
	int ret;

	scratch_dir(root, tmp, sizeof(tmp));
	socklb_dir_remove(tmp, NULL);
	ret = socklb_mkdir(tmp, 0700, false, err);
	if (ret)
		return ret;
	bpf_object__for_each_program(prog, obj) {
		snprintf(path, sizeof(path), "%s/%s", tmp, bpf_program__name(prog));
		ret = bpf_program__pin(prog, path);
		if (ret) {
			socklb_fail(err, ret, "cannot pin the program %s: %s", path, strerror(-ret));
			goto fail;
		}
	}
	if (rename(tmp, dir)) {
		ret = socklb_fail(err, socklb_errno(), "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	socklb_dir_remove(tmp, NULL);
	return ret;
}

/* Load this build's programs (creating or reusing the maps) and pin them in dir. */
static int programs_load(const char *root, const char *dir, const struct socklb_map_sizes *sizes,
			 struct socklb_err *err)
{
	struct socklb_err why;
	struct socklb *skel;
	int ret;

	skel = socklb__open();
	if (!skel)
		return socklb_fail(err, socklb_errno(), "cannot open the datapath object: %s", strerror(errno));
	/* ECONNREFUSED for services without backends needs bpf_set_retval (5.18+). */
	skel->rodata->have_set_retval = socklb_probe_set_retval(&why) == 0;
	if (!skel->rodata->have_set_retval)
		pr_warn("no bpf_set_retval (%s): connects to services without endpoints fail with EPERM, "
			"not ECONNREFUSED",
			why.msg);
	/* Trace events name the process when the hooks may ask for the current task (6.1+). */
	skel->rodata->have_current_task = socklb_probe_current_task(&why) == 0;
	if (!skel->rodata->have_current_task)
		pr_info("trace events carry no process: %s", why.msg);
	ret = socklb_maps_prepare(skel->obj, root, sizes, err);
	if (ret)
		goto out;
	ret = socklb__load(skel);
	if (ret) {
		socklb_fail(err, ret, "cannot load the datapath %s: %s", socklb_datapath_id(), strerror(-ret));
		goto out;
	}
	ret = programs_publish(root, skel->obj, dir, err);
out:
	socklb__destroy(skel);
	return ret;
}

int socklb_programs_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_programs *p,
			 struct socklb_err *err)
{
	char dir[PATH_MAX], progs[PATH_MAX];
	int lock, ret;

	programs_reset(p);
	snprintf(progs, sizeof(progs), "%s/prog", root);
	snprintf(dir, sizeof(dir), "%s/%s", progs, socklb_datapath_id());
	/* Every ADD after the first on a node: just open the pins. */
	if (programs_open_pins(dir, p) == 0)
		return 0;

	lock = socklb_dir_lock(root, true, false, err);
	if (lock < 0)
		return lock;
	if (programs_open_pins(dir, p) == 0) {
		socklb_dir_unlock(lock);
		return 0;
	}
	ret = socklb_mkdir(progs, 0700, false, err);
	if (!ret)
		ret = programs_load(root, dir, sizes, err);
	if (!ret) {
		ret = programs_open_pins(dir, p);
		if (ret)
			socklb_fail(err, ret, "cannot open the programs pinned in %s: %s", dir, strerror(-ret));
	}
	if (!ret)
		p->loaded = true;
	socklb_dir_unlock(lock);
	return ret;
}

int socklb_programs_revalidate(const char *root, struct socklb_programs *p, struct socklb_err *err)
{
	char path[PATH_MAX];
	int h;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/prog/%s/%s", root, socklb_datapath_id(), socklb_hooks[h].name);
		if (pinned_prog_id(path) != socklb_prog_id(p->fd[h]))
			break;
	}
	if (h == SOCKLB_HOOK_COUNT)
		return 0;
	pr_info("datapath %s was unpinned from %s/prog after this plugin opened it (pruned by another plugin build): "
		"opening it again",
		socklb_datapath_id(), root);
	socklb_programs_close(p);
	return socklb_programs_open(root, NULL, p, err);
}

int socklb_build_of_program(const char *root, enum socklb_hook h, __u32 prog_id, char *name, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	int ret = -ENOENT;
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
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

void socklb_builds_free(struct socklb_build *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].prog_ids);
	free(b);
}

/* The ids of the programs pinned in a build's directory. */
static int build_read_programs(const char *dir, struct socklb_build *b, struct socklb_err *err)
{
	char path[PATH_MAX];
	struct dirent *de;
	__u32 *grown;
	int fd, ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return socklb_fail(err, socklb_errno(), "cannot list %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			ret = socklb_fail(err, socklb_errno(), "cannot open the program pinned at %s: %s", path,
					  strerror(errno));
			break;
		}
		grown = realloc(b->prog_ids, (b->n_progs + 1) * sizeof(*grown));
		if (!grown) {
			close(fd);
			ret = socklb_fail(err, -ENOMEM, "out of memory reading %s", dir);
			break;
		}
		b->prog_ids = grown;
		b->prog_ids[b->n_progs++] = socklb_prog_id(fd);
		close(fd);
	}
	closedir(d);
	return ret;
}

int socklb_builds_list(const char *root, bool with_programs, struct socklb_build **out, size_t *n,
		       struct socklb_err *err)
{
	struct socklb_build *b = NULL, *grown;
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	size_t count = 0;
	int ret = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/prog", root);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0
				       : socklb_fail(err, socklb_errno(), "cannot list %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR || strcmp(de->d_name, socklb_datapath_id()) == 0)
			continue;
		grown = realloc(b, (count + 1) * sizeof(*grown));
		if (!grown) {
			ret = socklb_fail(err, -ENOMEM, "out of memory listing %s", dir);
			break;
		}
		b = grown;
		memset(&b[count], 0, sizeof(b[count]));
		snprintf(b[count].name, sizeof(b[count].name), "%s", de->d_name);
		count++;
		if (!with_programs)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ret = build_read_programs(path, &b[count - 1], err);
		if (ret)
			break;
	}
	closedir(d);
	if (ret) {
		socklb_builds_free(b, count);
		return ret;
	}
	*out = b;
	*n = count;
	return 0;
}

int socklb_build_remove(const char *root, const char *name, struct socklb_err *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int ret;

	snprintf(dir, sizeof(dir), "%s/prog/%s", root, name);
	scratch_dir(root, tmp, sizeof(tmp));
	ret = socklb_dir_remove(tmp, err);
	if (ret)
		return ret;
	if (rename(dir, tmp))
		return socklb_fail(err, socklb_errno(), "cannot move %s aside to remove it: %s", dir, strerror(errno));
	ret = socklb_dir_remove(tmp, err);
	if (ret)
		socklb_err_prefix(err, "removing %s (moved to %s)", dir, tmp);
	return ret;
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
