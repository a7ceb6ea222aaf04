/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Installing socklb into a node's CNI set-up: the plugin binary into the CNI
 * bin dir, and a socklb entry at the end of the primary network's conflist
 * (the text edits are in cni_conflist.h).
 *
 * The primary network is the one a runtime uses: containerd (go-cni) and
 * kubelet's CNI loaders take libcni's ConfFiles(dir, .conf/.conflist/.json),
 * sort the names byte-wise (Go's sort.Strings) and use the first. A .conflist
 * is a list; a .conf or .json is a single plugin, which we wrap into
 * <same base name>.conflist before removing the original.
 *
 * Files are replaced atomically (a temp file in the same dir, then rename)
 * with their mode and owner kept; a file that needs no change is not written
 * at all. A symlinked config is edited where it points.
 */
#ifndef SOCKLB_CNI_INSTALL_H
#define SOCKLB_CNI_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

#include "cni_conflist.h"

#define CNI_DEFAULT_BIN_DIR "/opt/cni/bin"
#define CNI_DEFAULT_CONF_DIR "/etc/cni/net.d"

struct cni_install_opts {
	const char *bin_dir;
	const char *conf_dir;
	const char *plugin_binary; /* NULL: "socklb" next to our own executable */
	const char *entry_config; /* a JSON object: extra keys of the socklb entry; NULL: none */
};

/* Defaults: /opt/cni/bin, /etc/cni/net.d, no plugin binary override, no extra keys. */
void cni_install_opts_init(struct cni_install_opts *o);

/* The primary network's file in conf_dir (malloc'ed path); -ENOENT when there is none. */
int cni_conf_find_primary(const char *conf_dir, char **path);
/* True for the names runtimes read: *.conf, *.conflist, *.json. */
bool cni_conf_is_config_name(const char *name);

/*
 * Make the primary conflist hold the entry (wrapping a .conf first).
 * *path gets the file that now holds it (malloc'ed), or NULL when the conf
 * dir holds no network config yet (not an error). A malformed file is left
 * untouched.
 */
int cni_conf_ensure(const struct cni_install_opts *o, const char *entry, enum cni_entry_mode mode, char **path,
		    enum cni_conf_change *change, struct socklb_err *err);
/* Remove socklb entries from every conflist in the conf dir; *removed counts the files changed. */
int cni_conf_remove(const struct cni_install_opts *o, int *removed, struct socklb_err *err);

/* Copy the plugin binary to <bin_dir>/socklb (mode 0755, atomic); *changed is false when it was already there. */
int cni_plugin_install(const struct cni_install_opts *o, bool *changed, struct socklb_err *err);
/* Remove <bin_dir>/socklb; already gone is success. */
int cni_plugin_uninstall(const struct cni_install_opts *o, struct socklb_err *err);

/*
 * `socklb-syncd install-cni` and `socklb-syncd uninstall-cni` (commands.c):
 * do it, log what was done or, once, what failed; 0 or a negative errno.
 */
int cni_install_main(const struct cni_install_opts *o);
int cni_uninstall_main(const struct cni_install_opts *o);

#endif /* SOCKLB_CNI_INSTALL_H */
