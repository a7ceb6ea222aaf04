/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI spec versions: which ones the plugin speaks, comparing them, and the
 * VERSION verb's answer. The plugin answers in whatever version the runtime
 * asked for; ADD's result is prevResult converted to it (cni_result.h).
 */
#ifndef SOCKLB_PLUGIN_CNI_VERSION_H
#define SOCKLB_PLUGIN_CNI_VERSION_H

#include <stdbool.h>
#include <stddef.h>

/* Oldest first, as libcni lists them. */
extern const char *const cni_supported_versions[];
extern const size_t cni_supported_versions_count;

#define CNI_VERSION_LATEST "1.1.0"

bool cni_version_supported(const char *version);

/*
 * Compare two "major.minor.patch" versions: <0, 0, >0 like strcmp. Returns
 * -EINVAL through *err when either one does not parse (err may be NULL).
 */
int cni_version_compare(const char *a, const char *b, int *err);

/* true when version >= min (both must parse; false otherwise). */
bool cni_version_at_least(const char *version, const char *min);

/* "0.3.0, 0.3.1, ..." for error details. */
const char *cni_supported_versions_text(void);

/* {"cniVersion": version, "supportedVersions": [...]}, newline-terminated; NULL when out of memory. */
char *cni_version_json(const char *version);

#endif /* SOCKLB_PLUGIN_CNI_VERSION_H */
