// SPDX-License-Identifier: Apache-2.0
/*
 * GC (spec 1.1.0): remove every attachment the runtime does not list in
 * cni.dev/valid-attachments; pods it forgot to DEL stop holding links. Then
 * the programs of older datapath builds no remaining link runs go too.
 */
#include "links.h"
#include "log.h"
#include "verbs.h"

/* The CNI error of a failed step. */
static int gc_failed(const struct socklb_gc_result *res, int ret, const struct socklb_err *why, struct cni_error *err)
{
	switch (res->failed_step) {
	case SOCKLB_GC_LOCK:
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_BPFFS), "cannot lock the attachments", "%s",
				why->msg);
	case SOCKLB_GC_SWEEP:
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_DETACH), "cannot remove stale attachments",
				"%s", why->msg);
	default:
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_DETACH),
				"cannot remove unused datapath programs", "%s", why->msg);
	}
}

int verb_gc(const struct cni_request *req, char **out, struct cni_error *err)
{
	const struct plugin_config *conf = &req->conf;
	struct socklb_gc_result res;
	struct socklb_err why;
	int ret;

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
	ret = socklb_attachments_gc(conf->bpffs_root, conf->valid_attachments, conf->valid_attachments_count, &res,
				    &why);
	pr_info("GC: kept %zu listed attachment(s), removed %zu stale one(s)%s; removed %zu older datapath build(s)",
		res.kept, res.removed, res.failed ? " (some could not be)" : "", res.builds_removed);
	return ret ? gc_failed(&res, ret, &why, err) : 0;
}
