/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath programs: loaded once per node, pinned per build. Pin layout
 * under the bpffs root:
 *   <root>/socklb_*_v<ABI>          maps (see lbmap.h)
 *   <root>/prog/<datapath id>/<hook> programs, one directory per datapath build
 *   <root>/links/...                the pods' links (see links.h)
 * A program directory is published whole (renamed into place) and removed
 * whole (renamed away first), never changed in place. After an upgrade the
 * old build's directory stays while a pod's link runs one of its programs
 * (socklb_programs_prune() in links.h removes it after its last pod).
 *
 * Locks: <root> (the root lock, an flock on the directory) orders loading and
 * removing programs. The links lock (links.h) is taken before it, never
 * inside it.
 */
#ifndef SOCKLB_DATAPATH_H
#define SOCKLB_DATAPATH_H

#include <bpf/bpf.h>
#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
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
int socklb_programs_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_programs *p,
			 struct socklb_err *err);
void socklb_programs_close(struct socklb_programs *p);

/*
 * With the links lock held, before linking p: make sure p are still the
 * programs pinned for this build, opening them again (loading them, with the
 * maps' default sizes) when a prune by another build removed them since
 * socklb_programs_open(). A link made from unpinned programs would run
 * programs that no CHECK recognises and no prune accounts for.
 */
int socklb_programs_revalidate(const char *root, struct socklb_programs *p, struct socklb_err *err);

/* The kernel's id of the program (or link) behind fd; 0 when it cannot be read. */
__u32 socklb_prog_id(int fd);

/*
 * The datapath build under <root>/prog that pins prog_id as hook h's program:
 * its id in name, or -ENOENT when none does.
 */
int socklb_build_of_program(const char *root, enum socklb_hook h, __u32 prog_id, char *name, size_t len);

/* Another datapath build's directory under <root>/prog, and the programs it pins. */
struct socklb_build {
	char name[NAME_MAX + 1];
	__u32 *prog_ids;
	size_t n_progs;
};

/*
 * The builds under <root>/prog but this one, with the ids of their programs
 * when with_programs is set (read them with the root lock held). *out is
 * malloc'ed (socklb_builds_free()); none, and no <root>/prog, is *n = 0.
 */
int socklb_builds_list(const char *root, bool with_programs, struct socklb_build **out, size_t *n,
		       struct socklb_err *err);
void socklb_builds_free(struct socklb_build *b, size_t n);
/*
 * With the root lock held: remove a build's directory, moved aside first so
 * that no one ever sees it half removed.
 */
int socklb_build_remove(const char *root, const char *name, struct socklb_err *err);

/* Probe: 0 when an ADD could be served (bpffs at root's parent, programs load). */
int socklb_bpffs_check(const char *root);

#endif /* SOCKLB_DATAPATH_H */
