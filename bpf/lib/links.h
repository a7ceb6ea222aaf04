/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pods' links, <root>/links/<attachment>/<hook>: this module is their one
 * owner. An attachment is one pod interface (container id, ifname): a
 * directory holding one pinned bpf_link per hook, all or none.
 *
 * The runtime may run ADD, DEL and GC for many pods at once, and repeat ADD
 * or DEL for one pod. Each of them creates or removes a whole attachment
 * under the links lock (an flock on <root>/links), so no step ever sees (or
 * removes) another one's half-made attachment. Pruning the programs of older
 * datapath builds runs under it too, so a prune never misses a link being
 * pinned. The lock is held for pinning, unpinning and pruning, not for
 * resolving cgroups nor for loading programs (but for loading them again
 * when a prune removed them meanwhile). Whoever needs the root lock too
 * (loading, pruning: datapath.h) takes it inside this one, never around it.
 *
 * Functions return 0 (or a count, or an fd) or a negative errno and fill the
 * error context (err.h). Nothing here logs.
 */
#ifndef SOCKLB_LINKS_H
#define SOCKLB_LINKS_H

#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct socklb_programs;

/*
 * Lock <root>/links, creating it (mode 0700) when create is set. Returns the
 * lock's fd, -ENOENT when it does not exist and create is not set (then there
 * is no attachment at all), or another negative errno.
 */
int socklb_links_lock(const char *root, bool create, struct socklb_err *err);
void socklb_links_unlock(int fd);

/* "<root>/links/<name>": one directory name per (container id, ifname), see links.c. */
int socklb_attachment_dir(const char *root, const char *container_id, const char *ifname, char *buf, size_t len);

/*
 * The (container id, ifname) an attachment directory's name stands for
 * (socklb_attachment_dir), as "<container id>/<ifname>": -EINVAL when name
 * is not one.
 */
int socklb_attachment_name_decode(const char *name, char *buf, size_t len);

/*
 * With the links lock held: link every hook to the cgroup and pin the links
 * in dir, all or none. An existing complete attachment in dir is replaced
 * (ADD repeated).
 */
int socklb_attach(const struct socklb_programs *p, int cgroup_fd, const char *dir, struct socklb_err *err);
/* With the links lock held: unpin the links in dir and remove it; 0 when it is already gone. */
int socklb_detach(const char *dir, struct socklb_err *err);

/*
 * Verify the attachment in dir: every hook's link pinned, still attached to a
 * live cgroup (cgroup_id != 0, and equal to want_cgroup_id when non-zero),
 * and running socklb's program for that hook: this build's (p), or the one
 * of another build still pinned under <root>/prog (a pod attached by an older
 * plugin keeps that build's programs until its DEL). Returns 0 with the
 * datapath id the links run in datapath (another build's if any hook does),
 * or -ENOENT (missing), -ENOLINK (defunct), -EBADSLT (another program) with
 * err naming the link and what is wrong with it.
 */
int socklb_attachment_check(const char *root, const struct socklb_programs *p, const char *dir, __u64 want_cgroup_id,
			    char *datapath, size_t len, struct socklb_err *err);

/*
 * The cgroup id the attachment in dir links (read from its first hook's
 * link): the pod's cgroup. 0 when the link is gone or defunct (its cgroup was
 * removed).
 */
__u64 socklb_attachment_cgroup_id(const char *dir);
/* The info of the attachment's first link: 0, or the errno of opening or reading it. */
int socklb_attachment_link_info(const char *dir, struct bpf_link_info *info);

/* 0 to go on, anything else stops socklb_attachments_foreach() and is what it returns. */
typedef int (*socklb_attachment_cb)(const char *name, const char *dir, void *ctx);
/* Call cb for every attachment under root (none, and no <root>/links: 0), without the lock. */
int socklb_attachments_foreach(const char *root, socklb_attachment_cb cb, void *ctx, struct socklb_err *err);

/* A pod interface the runtime still has (CNI GC's cni.dev/valid-attachments). */
struct socklb_attachment_ref {
	const char *container_id;
	const char *ifname;
};

struct socklb_gc_result {
	enum {
		SOCKLB_GC_DONE,
		SOCKLB_GC_LOCK, /* taking the links lock failed */
		SOCKLB_GC_SWEEP, /* removing stale attachments failed */
		SOCKLB_GC_PRUNE, /* removing older builds' programs failed */
	} failed_step;
	size_t kept; /* attachments listed in keep and present */
	size_t removed;
	size_t failed; /* could not be removed: err names them */
	size_t builds_removed; /* older datapath builds whose programs no remaining link runs */
};

/*
 * Take the links lock, remove every attachment under root that is not in
 * keep, then the programs of older datapath builds no remaining link runs.
 * An attachment that cannot be removed does not stop the others: err then
 * lists them. No <root>/links is nothing to do.
 */
int socklb_attachments_gc(const char *root, const struct socklb_attachment_ref *keep, size_t n_keep,
			  struct socklb_gc_result *res, struct socklb_err *err);

/*
 * With the links lock held: remove every program directory under <root>/prog
 * that is not this build's and whose programs no link pinned under
 * <root>/links runs, so an upgrade's old programs (and the maps only they
 * hold) go with their last pod. Takes the root lock. Costs one directory
 * listing when this build's is the only directory. Returns how many
 * directories it removed (a link it cannot read keeps every directory).
 */
int socklb_programs_prune(const char *root, struct socklb_err *err);

#endif /* SOCKLB_LINKS_H */
