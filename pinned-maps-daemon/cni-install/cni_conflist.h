/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The socklb entry and the edits of a CNI config's text that add, replace or
 * remove it. Pure functions: no files, no logging; every error (err.h) names
 * the file and the problem.
 *
 * Edits are made on the text, not by re-printing the parsed JSON: the entry is
 * spliced in after the last plugin, with the separator the file already uses
 * between its plugins. The rest of the file stays byte for byte as the
 * primary CNI wrote it (numbers, key order, indentation), and removing the
 * entry gives back the original bytes. Validation follows libcni's
 * ConfListFromBytes: a JSON object with a "name" string, a string cniVersion
 * if any, and a non-empty "plugins" list of objects with a "type" string.
 */
#ifndef SOCKLB_CNI_CONFLIST_H
#define SOCKLB_CNI_CONFLIST_H

#include "err.h"

#define CNI_PLUGIN_TYPE "socklb"

enum cni_conf_change {
	CNI_CONF_UNCHANGED,
	CNI_CONF_INSERTED,
	CNI_CONF_UPDATED, /* an existing socklb entry was replaced by a different one */
};

/* What to do with a socklb entry that is already there but differs from ours. */
enum cni_entry_mode {
	CNI_ENTRY_KEEP, /* leave it: only a missing entry is added */
	CNI_ENTRY_REPLACE, /* make it ours */
};

/*
 * The entry, as one line of compact JSON: {"type":"socklb", <extra keys>,
 * "capabilities":{"cgroupPath":true,"io.kubernetes.cri.pod-annotations":true}}.
 * extra_json may be NULL. Keys the runtime or we set (type, capabilities,
 * name, cniVersion, runtimeConfig, prevResult) are refused. Free with free().
 */
int cni_entry_build(const char *extra_json, char **entry, struct socklb_err *err);

/*
 * `file` only names the text in errors. *out is a new NUL-terminated string
 * (free()) or NULL when nothing changes.
 *
 * put: add entry after the last plugin unless a socklb entry exists; with
 * CNI_ENTRY_REPLACE a different existing entry is replaced in place. Several
 * socklb entries are an error.
 * drop: remove every socklb entry, each with the separator before it (after
 * it when first), so that put then drop is the identity.
 * wrap: a single-plugin config (.conf/.json) as a conflist, as libcni's
 * ConfListFromConf does: cniVersion and name copied up, the plugin as it is.
 */
int cni_conflist_put(const char *file, const char *text, const char *entry, enum cni_entry_mode mode, char **out,
		     enum cni_conf_change *change, struct socklb_err *err);
int cni_conflist_drop(const char *file, const char *text, char **out, struct socklb_err *err);
int cni_conf_wrap(const char *file, const char *text, char **out, struct socklb_err *err);
/* How many socklb entries a valid conflist holds. */
int cni_conflist_count_socklb(const char *file, const char *text, int *count, struct socklb_err *err);

#endif /* SOCKLB_CNI_CONFLIST_H */
