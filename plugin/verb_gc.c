// SPDX-License-Identifier: Apache-2.0
/*
 * GC (spec 1.1.0): remove every attachment the runtime does not list in
 * cni.dev/valid-attachments; pods it forgot to DEL stop holding links. Then
 * the programs of older datapath builds no remaining link runs go too.
 */
#include "attachments.h"
#include "log.h"
#include "verbs.h"

int verb_gc(const struct cni_request *req, char **out, struct cni_error *err)
{
	const struct plugin_config *conf = &req->conf;

	*out = NULL;
	/* No pod waits for GC: with a key of ours invalid it refuses rather than guess which attachments are ours. */
	if (conf->invalid.code) {
		*err = conf->invalid;
		return -1;
	}
	/* Without the list, every attachment would look stale: refuse rather than detach every pod. */
	if (!conf->has_valid_attachments)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid network configuration: cni.dev/valid-attachments",
				"missing (GC needs the list of attachments to keep)");
	return attachments_gc(conf->bpffs_root, conf->valid_attachments, conf->valid_attachments_count, err);
}
