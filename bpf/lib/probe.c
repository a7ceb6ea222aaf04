// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel probes: see probe.h. The programs are a few hand-written
 * instructions loaded with bpf_prog_load(), so each probe asks the kernel
 * exactly one question and needs no object file.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datapath.h"
#include "lbmap.h"
#include "links.h"
#include "probe.h"
#include "socklb.skel.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* ---- loading probe programs ------------------------------------------------------ */

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };

	return i;
}

static struct bpf_insn mov64_imm(__u8 dst, __s32 imm)
{
	return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}

static struct bpf_insn mov64_reg(__u8 dst, __u8 src)
{
	return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}

static struct bpf_insn add64_imm(__u8 dst, __s32 imm)
{
	/* BPF_ADD and BPF_K are both 0: BPF_ALU64 | BPF_ADD | BPF_K, without the redundant operand */
	return insn(BPF_ALU64 | BPF_ADD, dst, 0, 0, imm);
}

static struct bpf_insn ldx_dw(__u8 dst, __u8 src, __s16 off)
{
	return insn(BPF_LDX | BPF_MEM | BPF_DW, dst, src, off, 0);
}

static struct bpf_insn jeq_imm(__u8 dst, __s32 imm, __s16 off)
{
	return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
}

static struct bpf_insn call_helper(__s32 id)
{
	return insn(BPF_JMP | BPF_CALL, 0, 0, 0, id);
}

static struct bpf_insn call_kfunc(__s32 btf_id)
{
	return insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, btf_id);
}

static struct bpf_insn exit_insn(void)
{
	return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* The verifier's last word: the last line of its log but its statistics ("processed N insns ..."). */
static void log_last_line(char *log, char *buf, size_t len)
{
	char *line;

	buf[0] = '\0';
	for (;;) {
		size_t n = strlen(log);

		while (n && (log[n - 1] == '\n' || log[n - 1] == ' '))
			log[--n] = '\0';
		if (!n)
			return;
		line = strrchr(log, '\n');
		line = line ? line + 1 : log;
		if (strncmp(line, "processed ", 10) != 0 && strncmp(line, "verification time", 17) != 0 &&
		    strncmp(line, "stack depth", 11) != 0)
			break;
		*line = '\0';
	}
	snprintf(buf, len, "%s", line);
}

/*
 * Load insns as a program of this type, attach type and (for tracing
 * programs) attach BTF id, and close it: 0, or the errno the kernel answered,
 * with the verifier's last line in why. what names the program ("a
 * cgroup/connect4 program").
 */
static int try_load(const char *what, enum bpf_prog_type type, enum bpf_attach_type attach_type, __u32 attach_btf_id,
		    const struct bpf_insn *insns, size_t n, struct socklb_err *why)
{
	char log[4096] = "", last[256] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach_type, .attach_btf_id = attach_btf_id,
		    .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd, err;

	fd = bpf_prog_load(type, "socklb_probe", "GPL", insns, n, &opts);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	err = -errno;
	/* A log too small for the whole run still says why at its end; ENOSPC is about the log. */
	if (err == -ENOSPC)
		err = -EINVAL;
	if (!why)
		return err;
	log_last_line(log, last, sizeof(last));
	return socklb_fail(why, err, "loading %s: %s%s%s", what, strerror(-err), last[0] ? ": verifier: " : "", last);
}

int socklb_probe_hook(enum bpf_attach_type attach_type, struct socklb_err *why)
{
	/* "return 1": every sock_addr hook accepts it. */
	const struct bpf_insn insns[] = { mov64_imm(BPF_REG_0, 1), exit_insn() };
	char what[64];
	int h;

	snprintf(what, sizeof(what), "a program of attach type %d", (int)attach_type);
	for (h = 0; h < SOCKLB_HOOK_COUNT; h++)
		if (socklb_hooks[h].attach_type == attach_type)
			snprintf(what, sizeof(what), "a %s program", socklb_hooks[h].section);
	return try_load(what, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, attach_type, 0, insns, sizeof(insns) / sizeof(insns[0]),
			why);
}

int socklb_probe_cgroup_link(struct socklb_err *why)
{
	const struct bpf_insn insns[] = { mov64_imm(BPF_REG_0, 1), exit_insn() };
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
	int prog, link, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "socklb_probe", "GPL", insns, 2, &opts);
	if (prog < 0) {
		err = -errno;
		socklb_err_set(why, err, "loading a cgroup/connect4 program to link: %s", strerror(-err));
		return err;
	}
	/* fd -1 is no cgroup: a kernel with cgroup links gets as far as looking it up. */
	link = bpf_link_create(prog, -1, BPF_CGROUP_INET4_CONNECT, NULL);
	err = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(prog);
	if (err == -EBADF)
		return 0;
	if (!err)
		err = -EINVAL; /* a link to no cgroup: the kernel did not look the target up */
	socklb_err_set(why, err, "BPF_LINK_CREATE of a cgroup/connect4 program: %s", strerror(-err));
	return err;
}

int socklb_probe_set_retval(struct socklb_err *why)
{
	/* bpf_set_retval(0); return 1; */
	const struct bpf_insn insns[] = {
		mov64_imm(BPF_REG_1, 0),
		call_helper(BPF_FUNC_set_retval),
		mov64_imm(BPF_REG_0, 1),
		exit_insn(),
	};

	return try_load("a cgroup/connect4 program calling bpf_set_retval", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
			BPF_CGROUP_INET4_CONNECT, 0, insns, sizeof(insns) / sizeof(insns[0]), why);
}

int socklb_probe_current_task(struct socklb_err *why)
{
	/* bpf_get_current_pid_tgid(); char comm[16]; bpf_get_current_comm(comm, 16); return 1; */
	const struct bpf_insn insns[] = {
		call_helper(BPF_FUNC_get_current_pid_tgid),
		mov64_reg(BPF_REG_1, BPF_REG_10),
		add64_imm(BPF_REG_1, -16),
		mov64_imm(BPF_REG_2, 16),
		call_helper(BPF_FUNC_get_current_comm),
		mov64_imm(BPF_REG_0, 1),
		exit_insn(),
	};

	return try_load("a cgroup/connect4 program calling bpf_get_current_pid_tgid and bpf_get_current_comm",
			BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0, insns,
			sizeof(insns) / sizeof(insns[0]), why);
}

/* A socket storage map with an int key and value (the kernel wants their BTF): an fd, or a negative errno. */
static int sk_storage_create(struct socklb_err *why)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct btf *btf;
	int int_id, map, err;

	btf = btf__new_empty();
	if (!btf)
		return -errno;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	err = int_id < 0 ? int_id : btf__load_into_kernel(btf);
	if (err) {
		socklb_err_set(why, err, "loading the BTF of a socket storage map: %s", strerror(-err));
		btf__free(btf);
		return err;
	}
	opts.btf_fd = (__u32)btf__fd(btf);
	opts.btf_key_type_id = (__u32)int_id;
	opts.btf_value_type_id = (__u32)int_id;
	map = bpf_map_create(BPF_MAP_TYPE_SK_STORAGE, "socklb_probe", 4, 4, 0, &opts);
	err = map < 0 ? -errno : 0;
	btf__free(btf);
	if (err)
		socklb_err_set(why, err, "creating a BPF_MAP_TYPE_SK_STORAGE map: %s", strerror(-err));
	return err ? err : map;
}

/* A connect4 program that does "if (ctx->sk) bpf_sk_storage_get(map, ctx->sk, 0, 0); return 1;". */
static int sk_storage_get_load(int map, struct socklb_err *why)
{
	const struct bpf_insn insns[] = {
		ldx_dw(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_sock_addr, sk)),
		jeq_imm(BPF_REG_2, 0, 5),
		/* r1 = map: BPF_LD | BPF_IMM | BPF_DW, both of the first being 0 */
		insn(BPF_LD | BPF_DW, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map),
		insn(0, 0, 0, 0, 0),
		mov64_imm(BPF_REG_3, 0),
		mov64_imm(BPF_REG_4, 0),
		call_helper(BPF_FUNC_sk_storage_get),
		mov64_imm(BPF_REG_0, 1),
		exit_insn(),
	};

	return try_load("a cgroup/connect4 program calling bpf_sk_storage_get", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
			BPF_CGROUP_INET4_CONNECT, 0, insns, sizeof(insns) / sizeof(insns[0]), why);
}

int socklb_probe_sk_storage(struct socklb_err *why)
{
	int map, err;

	map = sk_storage_create(why);
	if (map < 0)
		return map;
	err = sk_storage_get_load(map, why);
	close(map);
	return err;
}

/* ---- BTF, iterators, bpf_sock_destroy ------------------------------------------- */

int socklb_probe_btf(struct btf **vmlinux, struct socklb_err *why)
{
	int err;

	*vmlinux = NULL;
	if (access(VMLINUX_BTF, R_OK)) {
		err = -errno;
		socklb_err_set(why, err, "cannot read %s: %s", VMLINUX_BTF, strerror(-err));
		return err;
	}
	*vmlinux = btf__parse(VMLINUX_BTF, NULL);
	if (!*vmlinux) {
		err = -errno;
		socklb_err_set(why, err, "cannot parse %s: %s", VMLINUX_BTF, strerror(-err));
		return err;
	}
	return 0;
}

/* The BTF id of a kernel function, or -ENOENT with why naming it. */
static int kernel_func(const struct btf *vmlinux, const char *name, struct socklb_err *why)
{
	int id;

	if (!vmlinux)
		return socklb_fail(why, -EOPNOTSUPP, "no kernel BTF (%s) to find %s in", VMLINUX_BTF, name);
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
	if (id < 0)
		return socklb_fail(why, -ENOENT, "the kernel's BTF has no function %s", name);
	return id;
}

static int iter_load(const struct btf *vmlinux, const char *target, const struct bpf_insn *insns, size_t n,
		     const char *what, struct socklb_err *why)
{
	char func[64];
	int id;

	/* What libbpf does for SEC("iter/<target>"): attach to the kernel's bpf_iter_<target>. */
	snprintf(func, sizeof(func), "bpf_iter_%s", target);
	id = kernel_func(vmlinux, func, why);
	if (id < 0)
		return id;
	return try_load(what, BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, (__u32)id, insns, n, why);
}

int socklb_probe_iter(const struct btf *vmlinux, const char *target, struct socklb_err *why)
{
	const struct bpf_insn insns[] = { mov64_imm(BPF_REG_0, 0), exit_insn() };
	char what[64];

	snprintf(what, sizeof(what), "an iter/%s program", target);
	return iter_load(vmlinux, target, insns, sizeof(insns) / sizeof(insns[0]), what, why);
}

/* struct bpf_iter__udp is { meta; udp_sk; ... }: "if (ctx->udp_sk) bpf_sock_destroy(ctx->udp_sk); return 0;". */
static int sock_destroy_load(const struct btf *vmlinux, int kfunc_id, struct socklb_err *why)
{
	const struct bpf_insn insns[] = {
		ldx_dw(BPF_REG_1, BPF_REG_1, 8),
		jeq_imm(BPF_REG_1, 0, 1),
		call_kfunc(kfunc_id),
		mov64_imm(BPF_REG_0, 0),
		exit_insn(),
	};

	return iter_load(vmlinux, "udp", insns, sizeof(insns) / sizeof(insns[0]),
			 "an iter/udp program calling bpf_sock_destroy", why);
}

int socklb_probe_sock_destroy(const struct btf *vmlinux, struct socklb_err *why)
{
	int id = kernel_func(vmlinux, "bpf_sock_destroy", why);

	return id < 0 ? id : sock_destroy_load(vmlinux, id, why);
}

/* ---- the datapath ------------------------------------------------------------------ */

int socklb_probe_datapath(struct socklb_err *why)
{
	struct socklb *skel;
	struct bpf_map *map;
	int err;

	skel = socklb__open();
	if (!skel) {
		err = -errno;
		socklb_err_set(why, err, "opening the datapath object: %s", strerror(-err));
		return err;
	}
	skel->rodata->have_set_retval = socklb_probe_set_retval(NULL) == 0;
	skel->rodata->have_current_task = socklb_probe_current_task(NULL) == 0;
	/* Private maps: no pin path (libbpf would pin or reuse by name), one entry each. */
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = bpf_map__set_pin_path(map, NULL);
		if (!err && bpf_map__type(map) != BPF_MAP_TYPE_SK_STORAGE)
			err = bpf_map__set_max_entries(map, 1);
		if (err) {
			socklb_err_set(why, err, "preparing the datapath's map %s: %s", bpf_map__name(map),
				       strerror(-err));
			goto out;
		}
	}
	err = socklb__load(skel);
	if (err)
		socklb_err_set(why, err, "loading the datapath %s: %s", socklb_datapath_id(), strerror(-err));
out:
	socklb__destroy(skel);
	return err;
}

/* ---- what is pinned ------------------------------------------------------------------ */

static int count_frontend(const struct socklb_frontend *fe, const struct socklb_svc *svc, void *ctx)
{
	struct socklb_pins *p = ctx;

	(void)fe;
	p->services++;
	p->backends += svc->count;
	return 0;
}

static void pins_maps(const char *root, struct socklb_pins *p)
{
	struct socklb_maps maps;

	p->maps_err = socklb_maps_open_existing(root, &maps);
	if (p->maps_err)
		return;
	p->max_services = maps.max_services;
	p->max_backends = maps.max_backends;
	p->maps_err = socklb_frontend_foreach(&maps, count_frontend, p);
	socklb_maps_close(&maps);
}

static int pins_builds(const char *root, struct socklb_pins *p, struct socklb_err *why)
{
	char dir[PATH_MAX];
	struct dirent *de;
	size_t off = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/prog", root);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0
				       : socklb_fail(why, socklb_errno(), "cannot list %s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		/* tmp-PID: a loader's scratch directory, published or removed in a moment */
		if (de->d_type != DT_DIR || de->d_name[0] == '.' || strncmp(de->d_name, "tmp-", 4) == 0)
			continue;
		p->builds++;
		if (strcmp(de->d_name, socklb_datapath_id()) == 0)
			p->this_build = true;
		else if (off < sizeof(p->other_builds))
			off += (size_t)snprintf(p->other_builds + off, sizeof(p->other_builds) - off, "%s%s",
						off ? ", " : "", de->d_name);
	}
	closedir(d);
	return 0;
}

static int count_pod(const char *name, const char *dir, void *ctx)
{
	struct socklb_pins *p = ctx;
	struct bpf_link_info info;

	(void)name;
	p->pods++;
	if (socklb_attachment_link_info(dir, &info))
		p->pods_broken++;
	else if (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id == 0)
		p->pods_gone++;
	return 0;
}

int socklb_probe_pins(const char *root, struct socklb_pins *out, struct socklb_err *why)
{
	struct stat st;
	int err;

	memset(out, 0, sizeof(*out));
	out->maps_err = -ENOENT;
	err = socklb_bpffs_check(root);
	if (err) {
		if (err == -ENOTSUP)
			return socklb_fail(why, err, "%s is not on a bpffs mount", root);
		return socklb_fail(why, err, "checking that %s is on a bpffs mount: %s", root, strerror(-err));
	}
	if (stat(root, &st))
		return errno == ENOENT ? 0
				       : socklb_fail(why, socklb_errno(), "cannot stat %s: %s", root, strerror(errno));
	out->root_exists = true;
	pins_maps(root, out);
	err = pins_builds(root, out, why);
	if (!err)
		err = socklb_attachments_foreach(root, count_pod, out, why);
	return err;
}

/* ---- privileges ------------------------------------------------------------------------ */

int socklb_probe_memcg_charge(struct socklb_err *why)
{
	struct rlimit lim;
	union bpf_attr attr;
	int status, err;
	pid_t pid;

	/* A child, as only a process's own limit can be lowered and lowering it is for good. */
	pid = fork();
	if (pid < 0) {
		err = -errno;
		socklb_err_set(why, err, "fork: %s", strerror(-err));
		return err;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls here: the caller may have threads. */
		if (getrlimit(RLIMIT_MEMLOCK, &lim))
			_exit(errno);
		lim.rlim_cur = 0;
		if (setrlimit(RLIMIT_MEMLOCK, &lim))
			_exit(errno);
		memset(&attr, 0, sizeof(attr));
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 8;
		attr.max_entries = 1;
		err = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
		_exit(err < 0 ? errno : 0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = -errno;
			socklb_err_set(why, err, "waiting for the probe process: %s", strerror(-err));
			return err;
		}
	}
	err = WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
	if (err)
		socklb_err_set(why, err, "creating a map with RLIMIT_MEMLOCK 0: %s", strerror(-err));
	return err;
}

/* ---- capabilities -------------------------------------------------------------------- */

int socklb_probe_caps(__u64 *effective, struct socklb_err *why)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {};
	int err;

	*effective = 0;
	if (syscall(SYS_capget, &hdr, data)) {
		err = -errno;
		socklb_err_set(why, err, "capget: %s", strerror(-err));
		return err;
	}
	*effective = (__u64)data[0].effective | ((__u64)data[1].effective << 32);
	return 0;
}
