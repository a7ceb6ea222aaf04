/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attachments of this node, <bpffs root>/links/<attachment>/: the lock
 * that orders every change to them, and the GC sweep.
 *
 * The runtime may run ADD, DEL and GC for many pods at once, and repeat ADD
 * or DEL for one pod. Each of them creates or removes a whole attachment
 * directory under one exclusive lock on <root>/links, so no step ever sees
 * (or removes) another one's half-made attachment. The lock is held only for
 * the pinning and unpinning, not for loading programs or resolving cgroups.
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
 * Remove every attachment under root that is not in keep. Error 104 naming
 * the attachments that could not be removed (the others are removed).
 */
int attachments_gc(const char *root, const struct attachment_ref *keep, size_t keep_count, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_ATTACHMENTS_H */
