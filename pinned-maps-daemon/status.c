// SPDX-License-Identifier: Apache-2.0
/*
 * `socklb-syncd status`: see status.h. Each check below probes one thing
 * (bpf/lib/probe.h), adds its rows, and adds to the one-line summary; the
 * table `checks` is the order they run and print in.
 */
#include "status.h"
#include "terminate.h"

#include <bpf/btf.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "cgroup.h"
#include "datapath.h"
#include "log.h"
#include "probe.h"

struct check_ctx {
	struct status *st;
	const char *root;
	struct btf *vmlinux; /* NULL when the kernel has no BTF */
};

/* ---- rows and summary ---------------------------------------------------------- */

struct status_row *status_add(struct status *st, const char *item, enum status_level level, int err, const char *detail)
{
	struct status_row *row;

	if (st->n == STATUS_MAX_ROWS)
		return NULL;
	row = &st->rows[st->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->item, sizeof(row->item), "%s", item);
	row->level = level;
	row->err = err;
	if (err && detail)
		snprintf(row->detail, sizeof(row->detail), "%s", detail);
	return row;
}

void status_summary_add(struct status *st, const char *fmt, ...)
{
	size_t off = strlen(st->summary);
	va_list ap;

	if (off && off + 2 < sizeof(st->summary)) {
		memcpy(st->summary + off, ", ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(st->summary + off, sizeof(st->summary) - off, fmt, ap);
	va_end(ap);
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "unknown error";
}

/* ---- privileges -------------------------------------------------------------- */

/* What a probe's program needs besides bpf() itself (CAP_BPF), each or CAP_SYS_ADMIN. */
enum need {
	NEED_CGROUP_PROG, /* cgroup programs: CAP_NET_ADMIN */
	NEED_TRACING, /* iterators, kfuncs: CAP_PERFMON */
};

static bool has_cap(const struct status *st, int cap)
{
	return !st->caps_known || (st->caps >> cap) & 1;
}

/* The capabilities this process lacks for such a probe ("" when none): an EPERM is then ours, not the kernel's. */
static void lacking(const struct status *st, enum need need, char *buf, size_t len)
{
	bool admin = has_cap(st, CAP_SYS_ADMIN);

	snprintf(buf, len, "%s%s%s", !admin && !has_cap(st, CAP_BPF) ? " CAP_BPF" : "",
		 need == NEED_CGROUP_PROG && !admin && !has_cap(st, CAP_NET_ADMIN) ? " CAP_NET_ADMIN" : "",
		 need == NEED_TRACING && !admin && !has_cap(st, CAP_PERFMON) ? " CAP_PERFMON" : "");
}

/*
 * The row of a probe's answer: ok_result when it found the facility; unsure
 * when it was refused EPERM and this process lacks a capability for it (the
 * kernel may have it); refused otherwise. Without the facility socklb cannot
 * run when must_have, and runs without it otherwise.
 */
static struct status_row *probe_row(struct check_ctx *c, const char *item, int err, const char *why, enum need need,
				    bool must_have, const char *ok_result)
{
	enum status_level level = must_have ? STATUS_BLOCKING : STATUS_LIMITED;
	struct status_row *row;
	char lacks[64];

	if (!err) {
		row = status_add(c->st, item, STATUS_OK, 0, NULL);
		if (row)
			snprintf(row->result, sizeof(row->result), "%s", ok_result);
		return row;
	}
	lacking(c->st, need, lacks, sizeof(lacks));
	if (err == -EPERM && lacks[0]) {
		row = status_add(c->st, item, must_have ? STATUS_UNKNOWN : STATUS_LIMITED, err, why);
		if (row) {
			snprintf(row->result, sizeof(row->result), "EPERM, lacks%s", lacks);
			row->unsure = true;
		}
		return row;
	}
	row = status_add(c->st, item, level, err, why);
	if (row)
		snprintf(row->result, sizeof(row->result), "%s: %s",
			 err == -ENOENT || err == -EOPNOTSUPP ? "missing" : "refused", errno_name(err));
	return row;
}

static void consequence(struct status_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void consequence(struct status_row *row, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	if (!row)
		return;
	off = row->unsure ? (size_t)snprintf(row->consequence, sizeof(row->consequence), "if the kernel refuses it: ")
			  : 0;
	va_start(ap, fmt);
	vsnprintf(row->consequence + off, sizeof(row->consequence) - off, fmt, ap);
	va_end(ap);
}

/* ---- the checks ----------------------------------------------------------------- */

static void check_kernel(struct check_ctx *c)
{
	struct status_row *row = status_add(c->st, "kernel", STATUS_OK, 0, NULL);
	struct utsname u;

	if (!row)
		return;
	if (uname(&u) == 0)
		snprintf(row->result, sizeof(row->result), "%s %s", u.release, u.machine);
	consequence(row, "each facility below is probed by loading it, not from the version");
}

static void check_cgroup(struct check_ctx *c)
{
	struct socklb_cgroup cg;
	struct socklb_err why;
	struct status_row *row;
	int err;

	err = socklb_cgroup2_mount_find(SOCKLB_MOUNTINFO, &cg, &why);
	row = status_add(c->st, "cgroup v2", err ? STATUS_BLOCKING : STATUS_OK, err, why.msg);
	if (!row)
		return;
	if (err) {
		snprintf(row->result, sizeof(row->result), "%s: no cgroup2 mount", socklb_cgroup_mode_name(cg.mode));
		consequence(row, "pods cannot be attached: the hooks attach to cgroup v2 directories only");
		status_summary_add(c->st, "no cgroup v2");
		return;
	}
	snprintf(row->result, sizeof(row->result), "%s, at %s", socklb_cgroup_mode_name(cg.mode), cg.mount);
	if (cg.mode == SOCKLB_CGROUP_HYBRID)
		consequence(row, "pods' cgroups are looked up in the v2 hierarchy at %s (v1 controllers beside it)",
			    cg.mount);
	else
		consequence(row, "pods' cgroups are looked up under %s", cg.mount);
	status_summary_add(c->st, "cgroup v2 %s", socklb_cgroup_mode_name(cg.mode));
}

static void check_btf(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_btf(&c->vmlinux, &why);
	row = status_add(c->st, "BTF", err ? STATUS_LIMITED : STATUS_OK, err, why.msg);
	if (!row)
		return;
	if (err) {
		snprintf(row->result, sizeof(row->result), "missing: %s", errno_name(err));
		consequence(row, "no socket termination: iterators and kfuncs are found through the kernel's BTF");
		status_summary_add(c->st, "no BTF");
		return;
	}
	snprintf(row->result, sizeof(row->result), "/sys/kernel/btf/vmlinux");
	consequence(row, "iterators and kfuncs can be found");
}

static void check_cgroup_link(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_cgroup_link(&why);
	row = probe_row(c, "bpf_link on cgroups", err, why.msg, NEED_CGROUP_PROG, true, "supported");
	if (!err) {
		consequence(row, "one link per hook and pod, pinned; unpinning detaches");
		return;
	}
	consequence(row, "pods cannot be attached: socklb pins a bpf_link per hook and pod");
	status_summary_add(c->st, "no cgroup links");
}

/* What each hook does for a pod: the consequence of having it. */
static const char *const hook_roles[SOCKLB_HOOK_COUNT] = {
	[SOCKLB_HOOK_CONNECT4] = "TCP and connected UDP to IPv4 Services are translated",
	[SOCKLB_HOOK_CONNECT6] = "TCP and connected UDP to IPv6 (and ::ffff:IPv4) Services are translated",
	[SOCKLB_HOOK_SENDMSG4] = "unconnected UDP to IPv4 Services is translated",
	[SOCKLB_HOOK_SENDMSG6] = "unconnected UDP to IPv6 Services is translated",
	[SOCKLB_HOOK_RECVMSG4] = "replies to unconnected UDP come from the IPv4 VIP",
	[SOCKLB_HOOK_RECVMSG6] = "replies to unconnected UDP come from the IPv6 VIP",
	[SOCKLB_HOOK_GETPEERNAME4] = "getpeername() shows the IPv4 VIP",
	[SOCKLB_HOOK_GETPEERNAME6] = "getpeername() shows the IPv6 VIP",
};

static void check_hooks(struct check_ctx *c)
{
	char refused[128] = "";
	struct socklb_err why;
	struct status_row *row;
	size_t off = 0;
	int h, err;

	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		err = socklb_probe_hook(socklb_hooks[h].attach_type, &why);
		row = probe_row(c, socklb_hooks[h].section, err, why.msg, NEED_CGROUP_PROG, true, "loads");
		if (!err) {
			consequence(row, "%s", hook_roles[h]);
			continue;
		}
		consequence(row, "the datapath cannot load: it needs every hook");
		if (off < sizeof(refused))
			off += (size_t)snprintf(refused + off, sizeof(refused) - off, " %s",
						socklb_hooks[h].section + strlen("cgroup/"));
	}
	if (off)
		status_summary_add(c->st, "hooks refused:%s", refused);
	else
		status_summary_add(c->st, "hooks ok");
}

static void check_datapath(struct check_ctx *c)
{
	struct status_row *row;
	char ok[64];
	struct socklb_err why;
	int err;

	err = socklb_probe_datapath(&why);
	snprintf(ok, sizeof(ok), "loads (%s)", socklb_datapath_id());
	row = probe_row(c, "datapath", err, why.msg, NEED_CGROUP_PROG, true, ok);
	if (!err) {
		consequence(row, "the plugin loads and pins it on the first opted-in ADD");
		status_summary_add(c->st, "datapath loads");
		return;
	}
	consequence(row, "opted-in pods' ADD fails; other pods are not affected");
	status_summary_add(c->st, "datapath does not load");
}

static void check_set_retval(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_set_retval(&why);
	row = probe_row(c, "bpf_set_retval", err, why.msg, NEED_CGROUP_PROG, false, "ECONNREFUSED");
	if (!err) {
		consequence(row, "a connect to a Service without endpoints fails with ECONNREFUSED, as kube-proxy's");
		status_summary_add(c->st, "ECONNREFUSED");
		return;
	}
	consequence(row, "a connect to a Service without endpoints fails with EPERM, not ECONNREFUSED");
	status_summary_add(c->st, "EPERM for Services without endpoints");
}

static void check_current_task(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_current_task(&why);
	row = probe_row(c, "current task", err, why.msg, NEED_CGROUP_PROG, false, "pid and comm");
	consequence(row, err ? "trace events carry no process" : "trace events name the process (pid, comm)");
}

static void check_sk_storage(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_sk_storage(&why);
	row = probe_row(c, "socket storage", err, why.msg, NEED_CGROUP_PROG, true, "supported");
	if (!err) {
		consequence(row,
			    "a record per socket: the VIP for getpeername and UDP replies, what termination matches");
		status_summary_add(c->st, "socket storage");
		return;
	}
	consequence(row, "the datapath cannot load: it keeps a record per socket");
	status_summary_add(c->st, "no socket storage");
}

static void check_sock_destroy(struct check_ctx *c)
{
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_sock_destroy(c->vmlinux, &why);
	row = probe_row(c, "bpf_sock_destroy", err, why.msg, NEED_TRACING, false, "in BTF, loads in iter/udp");
	if (!err) {
		consequence(row, "sockets connected to a removed backend can be destroyed");
		status_summary_add(c->st, "bpf_sock_destroy");
		return;
	}
	consequence(row, "termination cannot destroy in BPF: it uses sock_diag where that works (see termination)");
	status_summary_add(c->st, "no bpf_sock_destroy");
}

/* What the daemon's --termination-method auto takes here: the library probes every part of every method. */
static void check_termination(struct check_ctx *c)
{
	char why[SOCKLB_TERM_WHY_LEN];
	struct socklb_term_probe probe;
	enum socklb_term_method m;
	struct status_row *row;
	int err;

	err = socklb_term_probe(c->root, &probe);
	if (err) {
		snprintf(why, sizeof(why), "probing the termination methods: %s", strerror(-err));
		m = SOCKLB_TERM_OFF;
	} else {
		m = socklb_term_method_choose(&probe, why, sizeof(why));
	}
	row = probe_row(c, "termination", m == SOCKLB_TERM_OFF ? (err ? err : -EOPNOTSUPP) : 0, why, NEED_TRACING,
			false, socklb_term_method_name(m));
	if (m != SOCKLB_TERM_OFF) {
		consequence(row, "sockets still connected to a removed backend are destroyed (%s)", why);
		status_summary_add(c->st, "termination: %s", socklb_term_method_name(m));
		return;
	}
	consequence(row, "no socket termination: clients keep a removed backend until they reconnect");
	status_summary_add(c->st, "termination: off");
}

static const struct {
	const char *target;
	const char *with; /* what walking them gives socket termination */
	const char *without;
} iterators[] = {
	{ "tcp", "TCP sockets can be walked (termination of TCP, --terminate-tcp)",
	  "TCP sockets cannot be walked: no termination of TCP" },
	{ "udp", "UDP sockets can be walked (termination of connected UDP)",
	  "UDP sockets cannot be walked: no termination of connected UDP" },
	{ "bpf_sk_storage_map", "the socket records of every namespace can be walked in one pass",
	  "the socket records cannot be walked across namespaces" },
	{ "task", "processes and their open sockets can be walked (termination's tasks finder)",
	  "processes cannot be walked by BPF: termination walks every pod's namespace instead" },
};

static void check_iterators(struct check_ctx *c)
{
	char item[48], ok[96] = "", refused[160] = "";
	struct socklb_err why;
	size_t ok_off = 0, refused_off = 0, i;
	struct status_row *row;
	int err;

	for (i = 0; i < sizeof(iterators) / sizeof(iterators[0]); i++) {
		snprintf(item, sizeof(item), "iter/%s", iterators[i].target);
		err = socklb_probe_iter(c->vmlinux, iterators[i].target, &why);
		row = probe_row(c, item, err, why.msg, NEED_TRACING, false, "loads");
		if (!err) {
			consequence(row, "%s", iterators[i].with);
			ok_off += (size_t)snprintf(ok + ok_off, sizeof(ok) - ok_off, " %s", iterators[i].target);
			continue;
		}
		consequence(row, "%s", iterators[i].without);
		refused_off += (size_t)snprintf(refused + refused_off, sizeof(refused) - refused_off, "%s%s: %s",
						refused_off ? ", " : "", iterators[i].target, errno_name(err));
	}
	status_summary_add(c->st, "iterators%s%s%s%s", ok_off ? ok : " none", refused_off ? " (not " : "", refused,
			   refused_off ? ")" : "");
}

static void check_pins(struct check_ctx *c)
{
	struct socklb_pins p;
	struct status_row *row;
	struct socklb_err why;
	int err;

	err = socklb_probe_pins(c->root, &p, &why);
	row = status_add(c->st, "bpffs root", err ? STATUS_BLOCKING : STATUS_OK, err, why.msg);
	if (err) {
		if (row)
			snprintf(row->result, sizeof(row->result), "%s: %s", c->root,
				 err == -ENOTSUP ? "not on bpffs" : errno_name(err));
		consequence(row, "nothing can be pinned there: mount bpffs (mount -t bpf bpf /sys/fs/bpf) or choose a "
				 "root on it");
		return;
	}
	if (row)
		snprintf(row->result, sizeof(row->result), "%s%s", c->root, p.root_exists ? "" : " (not created yet)");
	consequence(row, p.root_exists ? "maps, programs and pods' links are pinned here"
				       : "the daemon or the first opted-in ADD creates it");
	if (!p.root_exists)
		return;

	row = status_add(c->st, "maps", p.maps_err && p.maps_err != -ENOENT ? STATUS_LIMITED : STATUS_OK, p.maps_err,
			 NULL);
	if (row && p.maps_err && p.maps_err != -ENOENT)
		snprintf(row->detail, sizeof(row->detail), "opening the maps pinned under %s: %s", c->root,
			 strerror(-p.maps_err));
	if (!p.maps_err) {
		if (row)
			snprintf(row->result, sizeof(row->result), "pinned (ABI v%d)", SOCKLB_ABI_VERSION);
		consequence(row, "the daemon writes Services to them, the datapath reads them");
		row = status_add(c->st, "services", STATUS_OK, 0, NULL);
		if (row)
			snprintf(row->result, sizeof(row->result), "%u of %u", p.services, p.max_services);
		consequence(row, "frontends (address, port, protocol) in the map");
		row = status_add(c->st, "backends", STATUS_OK, 0, NULL);
		if (row)
			snprintf(row->result, sizeof(row->result), "%llu of %u", (unsigned long long)p.backends,
				 p.max_backends);
		consequence(row, "backend slots of all frontends");
	} else if (row) {
		snprintf(row->result, sizeof(row->result), "%s",
			 p.maps_err == -ENOENT ? "not pinned yet" : errno_name(p.maps_err));
		consequence(row, p.maps_err == -ENOENT ? "the daemon or the first opted-in ADD creates them"
						       : "neither the daemon nor the plugin can use them");
	}

	row = status_add(c->st, "programs", STATUS_OK, 0, NULL);
	if (row && !p.builds)
		snprintf(row->result, sizeof(row->result), "none loaded yet");
	else if (row)
		snprintf(row->result, sizeof(row->result), "%zu build%s: %s%s%s", p.builds, p.builds == 1 ? "" : "s",
			 p.this_build ? "this one" : "", p.this_build && p.other_builds[0] ? ", " : "", p.other_builds);
	consequence(row, p.this_build ? "pods get this build's programs; another build's stay while a pod runs them"
				      : "the first opted-in ADD loads this build's programs");

	row = status_add(c->st, "attached pods", STATUS_OK, 0, NULL);
	if (row)
		snprintf(row->result, sizeof(row->result), "%zu", p.pods);
	if (p.pods_gone || p.pods_broken)
		consequence(
			row,
			"%zu with their cgroup gone, %zu with a missing link: their DEL or the next GC removes them",
			p.pods_gone, p.pods_broken);
	else
		consequence(row, "pods whose cgroup runs the datapath (link directories under %s/links)", c->root);
}

static const struct {
	const char *name;
	const char *with; /* what it gives socklb */
	const char *without; /* what is lost without it */
	int cap;
	bool admin_covers; /* CAP_SYS_ADMIN allows the same */
} capabilities[] = {
	{ "CAP_BPF", "bpf(): create, read and write the maps",
	  "bpf() only through CAP_SYS_ADMIN (which kernels before 5.8 always need)", CAP_BPF, true },
	{ "CAP_NET_ADMIN",
	  "load cgroup programs and link them (the plugin's work); SOCK_DESTROY for termination's diag",
	  "no termination through sock_diag (kernels before 6.5); cgroup programs only through CAP_SYS_ADMIN",
	  CAP_NET_ADMIN, true },
	{ "CAP_SYS_ADMIN", "setns() into pods' network namespaces to destroy sockets",
	  "no socket termination: pods' network namespaces cannot be entered", CAP_SYS_ADMIN, false },
	{ "CAP_PERFMON", "load the socket iterators of socket termination",
	  "socket iterators (tracing programs) only through CAP_SYS_ADMIN", CAP_PERFMON, true },
	{ "CAP_SYS_PTRACE", "open /proc/PID/ns/net of pods' processes",
	  "socket termination misses pods whose processes hold capabilities this one lacks", CAP_SYS_PTRACE, false },
	{ "CAP_DAC_READ_SEARCH", "open a pod's cgroup from its link's cgroup id",
	  "no socket termination: pods' cgroups cannot be opened by id", CAP_DAC_READ_SEARCH, false },
};

/* CAP_SYS_RESOURCE raises RLIMIT_MEMLOCK: needed only where the kernel charges BPF memory to it. */
static void check_memlock(struct check_ctx *c, char *lacks, size_t len)
{
	bool has = has_cap(c->st, CAP_SYS_RESOURCE), unlimited;
	struct status_row *row;
	struct rlimit lim;
	struct socklb_err why;
	int err;

	err = socklb_probe_memcg_charge(&why);
	unlimited = getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur == RLIM_INFINITY;
	row = status_add(c->st, "CAP_SYS_RESOURCE", has || !err || unlimited ? STATUS_OK : STATUS_LIMITED,
			 err == -EPERM ? 0 : err, why.msg);
	if (row)
		snprintf(row->result, sizeof(row->result), "%s", has ? "yes" : "no");
	if (!err)
		consequence(row, "not needed: this kernel charges BPF memory to the memory cgroup, not RLIMIT_MEMLOCK");
	else if (err != -EPERM)
		consequence(row, "cannot tell whether this kernel charges BPF memory to RLIMIT_MEMLOCK");
	else if (has)
		consequence(row, "raise RLIMIT_MEMLOCK, which this kernel charges BPF memory to");
	else if (unlimited)
		consequence(row,
			    "not needed while RLIMIT_MEMLOCK, which this kernel charges BPF memory to, is unlimited");
	else
		consequence(row,
			    "maps larger than RLIMIT_MEMLOCK (this kernel charges BPF memory to it) cannot be created");
	if (row && row->level == STATUS_LIMITED)
		snprintf(lacks + strlen(lacks), len - strlen(lacks), " CAP_SYS_RESOURCE");
}

static void check_capabilities(struct check_ctx *c)
{
	bool admin = has_cap(c->st, CAP_SYS_ADMIN);
	char lacks[160] = "";
	struct status_row *row;
	size_t i;

	if (!c->st->caps_known) {
		row = status_add(c->st, "capabilities", STATUS_LIMITED, -EINVAL, NULL);
		if (row)
			snprintf(row->result, sizeof(row->result), "cannot read them");
		consequence(row, "EPERM answers above may be this process's, not the kernel's");
		return;
	}
	for (i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++) {
		bool has = has_cap(c->st, capabilities[i].cap), covered = capabilities[i].admin_covers && admin;

		row = status_add(c->st, capabilities[i].name, has || covered ? STATUS_OK : STATUS_LIMITED, 0, NULL);
		if (row)
			snprintf(row->result, sizeof(row->result), "%s",
				 has	   ? "yes"
				 : covered ? "no (CAP_SYS_ADMIN)"
					   : "no");
		consequence(row, "%s", has ? capabilities[i].with : capabilities[i].without);
		if (!has && !covered)
			snprintf(lacks + strlen(lacks), sizeof(lacks) - strlen(lacks), " %s", capabilities[i].name);
	}
	check_memlock(c, lacks, sizeof(lacks));
	if (lacks[0])
		status_summary_add(c->st, "process lacks%s", lacks);
}

/* In the order they print. */
static void (*const checks[])(struct check_ctx *c) = {
	check_kernel,	 check_cgroup,	    check_btf,		check_cgroup_link,  check_hooks,
	check_datapath,	 check_set_retval,  check_current_task, check_sk_storage,   check_sock_destroy,
	check_iterators, check_termination, check_pins,		check_capabilities,
};

void status_probe(struct status *st, const char *bpffs_root)
{
	struct check_ctx c = { .st = st, .root = bpffs_root };
	size_t i;

	memset(st, 0, sizeof(*st));
	st->caps_known = socklb_probe_caps(&st->caps, NULL) == 0;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		checks[i](&c);
	btf__free(c.vmlinux);
}

/* ---- verdict and output ------------------------------------------------------------ */

bool status_verdict(const struct status *st, char *buf, size_t len)
{
	const struct status_row *blocking = NULL, *unknown = NULL;
	size_t i, off, limited = 0;

	for (i = 0; i < st->n; i++) {
		if (st->rows[i].level == STATUS_BLOCKING && !blocking)
			blocking = &st->rows[i];
		else if (st->rows[i].level == STATUS_UNKNOWN && !unknown)
			unknown = &st->rows[i];
	}
	if (blocking) {
		snprintf(buf, len, "socklb cannot run here: %s: %s", blocking->item, blocking->result);
		return false;
	}
	if (unknown) {
		snprintf(buf, len, "cannot tell whether socklb can run here: %s: %s (run it as root)", unknown->item,
			 unknown->result);
		return false;
	}
	off = (size_t)snprintf(buf, len, "socklb can run here");
	for (i = 0; i < st->n && off < len; i++) {
		if (st->rows[i].level != STATUS_LIMITED)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					limited++ ? ", " : "; limited: ", st->rows[i].item);
	}
	return true;
}

static const char *const level_names[] = {
	[STATUS_OK] = "ok",
	[STATUS_LIMITED] = "limited",
	[STATUS_BLOCKING] = "blocking",
	[STATUS_UNKNOWN] = "unknown",
};

void status_print_text(const struct status *st, bool verbose, FILE *out)
{
	int item_w = (int)strlen("ITEM"), result_w = (int)strlen("RESULT");
	char verdict[512];
	size_t i;

	for (i = 0; i < st->n; i++) {
		if ((int)strlen(st->rows[i].item) > item_w)
			item_w = (int)strlen(st->rows[i].item);
		if ((int)strlen(st->rows[i].result) > result_w)
			result_w = (int)strlen(st->rows[i].result);
	}
	fprintf(out, "%-*s  %-*s  %s\n", item_w, "ITEM", result_w, "RESULT", "CONSEQUENCE");
	for (i = 0; i < st->n; i++) {
		const struct status_row *r = &st->rows[i];

		fprintf(out, "%-*s  %-*s  %s\n", item_w, r->item, result_w, r->result, r->consequence);
		if (verbose && r->detail[0])
			fprintf(out, "%-*s  %s\n", item_w, "", r->detail);
	}
	status_verdict(st, verdict, sizeof(verdict));
	fprintf(out, "%s\n", verdict);
}

int status_print_json(const struct status *st, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *items, *item;
	char verdict[512], *text;
	bool ok = status_verdict(st, verdict, sizeof(verdict));
	size_t i;

	if (!root)
		return -ENOMEM;
	cJSON_AddBoolToObject(root, "canRun", ok);
	cJSON_AddStringToObject(root, "verdict", verdict);
	cJSON_AddStringToObject(root, "summary", st->summary);
	items = cJSON_AddArrayToObject(root, "items");
	for (i = 0; items && i < st->n; i++) {
		const struct status_row *r = &st->rows[i];

		item = cJSON_CreateObject();
		if (!item)
			break;
		cJSON_AddItemToArray(items, item);
		cJSON_AddStringToObject(item, "item", r->item);
		cJSON_AddStringToObject(item, "status", level_names[r->level]);
		cJSON_AddStringToObject(item, "result", r->result);
		cJSON_AddStringToObject(item, "consequence", r->consequence);
		if (r->err)
			cJSON_AddStringToObject(item, "errno", errno_name(r->err));
		if (r->detail[0])
			cJSON_AddStringToObject(item, "detail", r->detail);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return 0;
}

int status_main(const char *bpffs_root, bool json, bool verbose, FILE *out)
{
	struct status *st = malloc(sizeof(*st));
	char verdict[512];
	int ret;

	if (!st) {
		pr_err("status: out of memory");
		return 1;
	}
	status_probe(st, bpffs_root);
	if (json) {
		if (status_print_json(st, out)) {
			pr_err("status: out of memory formatting JSON");
			free(st);
			return 1;
		}
	} else {
		status_print_text(st, verbose, out);
	}
	ret = status_verdict(st, verdict, sizeof(verdict)) ? 0 : 1;
	free(st);
	return ret;
}

void status_log(const char *bpffs_root)
{
	struct status *st = malloc(sizeof(*st));
	char verdict[512];

	if (!st)
		return;
	status_probe(st, bpffs_root);
	pr_info("kernel: %s", st->summary);
	/* The daemon only writes maps: it runs on, but the plugin will fail its ADDs. */
	if (!status_verdict(st, verdict, sizeof(verdict)))
		pr_err("%s (socklb-syncd status tells more)", verdict);
	free(st);
}
