/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attachments of this node, <bpffs root>/links/<attachment>/: the lock
 * that orders every change to them, and the GC sweep.
 *
 * The runtime may run ADD, DEL and GC for many pods at once, and repeat ADD
 * or DEL for one pod. Each of them creates or removes a whole attachment
 * directory under one exclusive lock on <root>/links, so no step ever sees
 * (or removes) another one's half-made attachment. ADD and GC also prune the
 * programs of older datapath builds under it (socklb_programs_prune), so a
 * prune never misses a link being pinned. The lock is held for the pinning,
 * unpinning and pruning, not for resolving cgroups nor for loading programs
 * (but for loading them again when a prune removed them meanwhile). A step
 * that needs the root lock too (loading, pruning) takes it inside this one,
 * never around it.
 */
#ifndef SOCKLB_PLUGIN_ATTACHMENTS_H
#define SOCKLB_PLUGIN_ATTACHMENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "cni_error.h"
#include "config.h"

/*
 * Lock <root>/links, creating it (mode 0700) when create is set. Returns the
 * lock's fd, -ENOENT when it does not exist and create is not set (then there
 * is no attachment at all), or another negative errno.
 */
int attachments_lock(const char *root, bool create);
void attachments_unlock(int fd);

/*
 * Remove every attachment under root that is not in keep, then the programs
 * of older datapath builds no remaining link runs. Error 104 naming the
 * attachments that could not be removed (the others are removed), or saying
 * why the programs could not be.
 */
int attachments_gc(const char *root, const struct attachment_ref *keep, size_t keep_count, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_ATTACHMENTS_H */
