// SPDX-License-Identifier: Apache-2.0
/*
 * DEL: unpin this attachment's links (the kernel detaches the programs). It
 * needs no prevResult, no cgroup and no netns, and succeeds when the
 * attachment is already gone: DEL may be repeated, and kubelet may have
 * removed the pod cgroup already. A pod that has no attachment (it did not
 * opt in, or started without socklb) succeeds without touching anything, so
 * nothing under the bpffs root can fail its DEL.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "links.h"
#include "log.h"
#include "verbs.h"

/* Nothing to remove: no directory there, or no directory that could hold one (no bpffs root). */
static bool nothing_attached(const char *dir)
{
	struct stat st;

	return lstat(dir, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
}

int verb_del(const struct cni_request *req, char **out, struct cni_error *err)
{
	const char *root = req->conf.bpffs_root;
	struct socklb_err why;
	char dir[PATH_MAX];
	int lock, ret;

	*out = NULL;
	if (!root) {
		pr_err("DEL %s (%s): cannot look for its attachment: %s: %s (GC removes it once bpffsRoot is fixed)",
		       req->env.container_id, request_pod(req), req->conf.invalid.msg, req->conf.invalid.details);
		return 0;
	}
	request_config_warn(req, "DEL");
	if (request_attachment_dir(req, dir, sizeof(dir), err))
		return -1;
	if (nothing_attached(dir)) {
		pr_debug("DEL %s (%s): nothing attached (no %s)", req->env.container_id, request_pod(req), dir);
		return 0;
	}
	lock = socklb_links_lock(root, false, &why);
	if (lock == -ENOENT) {
		pr_debug("DEL %s (%s): nothing attached under %s", req->env.container_id, request_pod(req), root);
		return 0;
	}
	if (lock < 0)
		return cni_fail(err, cni_code_for_errno(lock, SOCKLB_ERR_BPFFS), "cannot lock the attachments", "%s",
				why.msg);
	ret = socklb_detach(dir, &why);
	socklb_links_unlock(lock);
	if (ret)
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_DETACH), "cannot remove the attachment", "%s",
				why.msg);
	pr_info("DEL %s (%s): attachment %s removed (or was not there)", req->env.container_id, request_pod(req), dir);
	return 0;
}
