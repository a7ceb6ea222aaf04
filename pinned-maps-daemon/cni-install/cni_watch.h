/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeps the socklb entry in the primary conflist while the daemon runs.
 * Primary CNIs (flannel, calico, ...) rewrite their config when their own
 * pod restarts or upgrades, dropping entries they did not write. A thread
 * watches the conf dir (inotify) and, after each change to a *.conf,
 * *.conflist or *.json file has settled, puts the entry back: an idempotent
 * ensure, so our own rewrite wakes it once more and changes nothing.
 *
 * An existing socklb entry is never modified here (install-cni owns its
 * content); only a missing one is added, built from the same opts. A
 * malformed file is left alone, logged once, and tried again on the next
 * change or every few seconds.
 */
#ifndef SOCKLB_CNI_WATCH_H
#define SOCKLB_CNI_WATCH_H

#include "cni_install.h"

struct cni_watch;

/*
 * Uses o->conf_dir (which must exist) and o->entry_config; the strings are
 * copied. Checks the entry config, ensures once in the background, and
 * returns 0, or a negative errno with e saying why. The thread then reports
 * its own failures (logged once per distinct error).
 */
int cni_watch_start(const struct cni_install_opts *o, struct cni_watch **out, struct socklb_err *e);
/* Stops the thread and frees; NULL is fine. */
void cni_watch_stop(struct cni_watch *w);

#endif /* SOCKLB_CNI_WATCH_H */
