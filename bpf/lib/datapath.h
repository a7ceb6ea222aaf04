/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the datapath programs once per node and linking them to pod
 * cgroups. Pin layout under the bpffs root:
 *   <root>/socklb_*_v<ABI>          maps (see lbmap.h)
 *   <root>/prog/<datapath id>/<hook> programs, one directory per datapath build
 *   <root>/links/<attachment>/<hook> one bpf_link per hook and pod attachment
 * A program directory is published whole (renamed into place) and removed
 * whole (renamed away first), never changed in place. After an upgrade the
 * old build's directory stays while a pod's link runs one of its programs.
 *
 * Locks: <root>/links (the attachments lock, plugin/attachments.h) orders
 * pinning and unpinning links and pruning programs; <root> (the root lock,
 * lbmap.h) orders loading and pruning programs. Whoever needs both takes
 * <root>/links first.
 */
#ifndef SOCKLB_DATAPATH_H
#define SOCKLB_DATAPATH_H

#include <bpf/bpf.h>
#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "lbmap.h"

enum socklb_hook {
	SOCKLB_HOOK_CONNECT4,
	SOCKLB_HOOK_CONNECT6,
	SOCKLB_HOOK_SENDMSG4,
	SOCKLB_HOOK_SENDMSG6,
	SOCKLB_HOOK_RECVMSG4,
	SOCKLB_HOOK_RECVMSG6,
	SOCKLB_HOOK_GETPEERNAME4,
	SOCKLB_HOOK_GETPEERNAME6,
	SOCKLB_HOOK_COUNT,
};

struct socklb_hook_desc {
	const char *name; /* program name, also its pin name and its link's */
	const char *section; /* its SEC() in socklb.bpf.c, the hook as users know it: "cgroup/connect4" */
	enum bpf_attach_type attach_type;
};

extern const struct socklb_hook_desc socklb_hooks[SOCKLB_HOOK_COUNT];

/* "v<ABI>-<hash of the BPF object>": names this build's program directory. */
const char *socklb_datapath_id(void);

struct socklb_programs {
	int fd[SOCKLB_HOOK_COUNT];
	bool loaded; /* this call loaded and pinned them (first use on this node) */
};

/*
 * Make sure this build's programs are loaded and pinned under root (loading
 * and pinning them, and creating the maps, the first time), and open them.
 * Race-free across processes. sizes is used only when the maps are created.
 */
int socklb_programs_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_programs *p);
void socklb_programs_close(struct socklb_programs *p);

/*
 * With the attachments lock held, before linking p: make sure p are still the
 * programs pinned for this build, opening them again (loading them, with the
 * maps' default sizes) when a prune by another build removed them since
 * socklb_programs_open(). A link made from unpinned programs would run
 * programs that no CHECK recognises and no prune accounts for.
 */
int socklb_programs_revalidate(const char *root, struct socklb_programs *p);

/*
 * With the attachments lock held: remove every program directory under
 * <root>/prog that is not this build's and whose programs no link pinned
 * under <root>/links runs, so an upgrade's old programs (and the maps only
 * they hold) go with their last pod. Takes the root lock. Costs one
 * directory listing when this build's is the only directory. Returns how many
 * directories it removed, or a negative errno, logged with the directory or
 * link it could not read or remove (a link it cannot read keeps every
 * directory).
 */
int socklb_programs_prune(const char *root);

/* "<root>/links/<name>": one directory name per (container id, ifname), see datapath.c. */
int socklb_attachment_dir(const char *root, const char *container_id, const char *ifname, char *buf, size_t len);

/*
 * Link every hook to the cgroup and pin the links in dir: all or none. An
 * existing complete attachment in dir is replaced (ADD repeated).
 */
int socklb_attach(const struct socklb_programs *p, int cgroup_fd, const char *dir);
/* Unpin the links in dir and remove it; 0 when it is already gone. */
int socklb_detach(const char *dir);

struct socklb_check_report {
	char datapath[NAME_MAX + 1]; /* success: the datapath id the links run (another build's if any hook does) */
	char why[256]; /* failure: which link, and what is wrong with it */
};

/*
 * Verify the attachment in dir: every hook's link pinned, still attached to a
 * live cgroup (cgroup_id != 0, and equal to want_cgroup_id when non-zero),
 * and running socklb's program for that hook: this build's (p), or the one
 * of another build still pinned under <root>/prog (a pod attached by an older
 * plugin keeps that build's programs until its DEL). Returns 0, or -ENOENT
 * (missing), -ENOLINK (defunct), -EBADSLT (another program).
 */
int socklb_attachment_check(const char *root, const struct socklb_programs *p, const char *dir, __u64 want_cgroup_id,
			    struct socklb_check_report *report);

/*
 * The cgroup id the attachment in dir links (read from its first hook's
 * link): the pod's cgroup. 0 when the link is gone or defunct (its cgroup was
 * removed).
 */
__u64 socklb_attachment_cgroup_id(const char *dir);

/*
 * The (container id, ifname) an attachment directory's name stands for
 * (socklb_attachment_dir), as "<container id>/<ifname>": -EINVAL when name
 * is not one.
 */
int socklb_attachment_name_decode(const char *name, char *buf, size_t len);

/* Probe: 0 when an ADD could be served (bpffs at root's parent, programs load). */
int socklb_bpffs_check(const char *root);

#endif /* SOCKLB_DATAPATH_H */
