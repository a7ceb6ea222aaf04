// SPDX-License-Identifier: Apache-2.0
/*
 * ADD: link the datapath to the pod's cgroup when the pod opted in, and pass
 * the previous plugin's result through unchanged. All hooks or none: a
 * failure leaves nothing attached, and failurePolicy decides whether the pod
 * starts without socklb or fails. After an upgrade, it also removes the
 * programs of older datapath builds once no pod runs them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "failure_policy.h"
#include "links.h"
#include "log.h"
#include "pod_cgroup.h"
#include "verbs.h"

static int attach(const struct cni_request *req, const struct pod_cgroup *cg, struct cni_error *err)
{
	const char *root = req->conf.bpffs_root;
	struct socklb_programs progs;
	struct socklb_err why;
	char dir[PATH_MAX];
	int ret, lock;

	if (request_datapath_open(req, &progs, dir, sizeof(dir), err))
		return -1;
	lock = socklb_links_lock(root, true, &why);
	if (lock < 0) {
		cni_fail(err, cni_code_for_errno(lock, SOCKLB_ERR_BPFFS), "cannot lock the attachments", "%s", why.msg);
		goto out;
	}
	ret = socklb_programs_revalidate(root, &progs, &why);
	if (ret) {
		cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_PROGRAMS), "cannot load the datapath programs",
			 "loading them again after a prune: %s", why.msg);
		goto unlock;
	}
	ret = socklb_attach(&progs, cg->fd, dir, &why);
	if (ret) {
		cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_ATTACH), "cannot attach to the pod cgroup",
			 "linking datapath %s to %s: %s%s", socklb_datapath_id(), cg->path, why.msg,
			 ret == -ENOENT ? " (the cgroup was removed meanwhile)" : "");
		goto unlock;
	}
	pr_info("ADD %s (%s): attached datapath %s to %s, links in %s", req->env.container_id, request_pod(req),
		socklb_datapath_id(), cg->path, dir);
	/* After an upgrade, ADDs remove older builds' programs once no pod runs them; this pod is attached anyway. */
	ret = socklb_programs_prune(root, &why);
	if (ret < 0)
		pr_warn("ADD %s (%s): cannot remove the unused programs of older datapath builds: %s (the next ADD or "
			"GC tries again)",
			req->env.container_id, request_pod(req), why.msg);
	else if (ret > 0)
		pr_info("ADD %s (%s): removed %d older datapath build(s) under %s/prog: no pod's link runs them",
			req->env.container_id, request_pod(req), ret, root);
unlock:
	socklb_links_unlock(lock);
out:
	socklb_programs_close(&progs);
	return err->code ? -1 : 0;
}

static int attach_pod(const struct cni_request *req, struct cni_error *err)
{
	struct pod_cgroup cg;
	int ret;

	/* A bad key of ours: nothing is attached with a configuration that says something else. */
	if (req->conf.invalid.code) {
		*err = req->conf.invalid;
		return -1;
	}
	if (pod_cgroup_open(req->conf.cgroup_root, req->conf.cgroup_path, req->args.pod_uid, &cg, err))
		return -1;
	ret = attach(req, &cg, err);
	pod_cgroup_close(&cg);
	return ret;
}

int verb_add(const struct cni_request *req, char **out, struct cni_error *err)
{
	struct optin_decision optin;

	if (!req->conf.prev_result)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "must be called as a chained plugin",
				"prevResult is missing: list socklb after the primary network plugin in a conflist");
	/* The result first: nothing can fail after the attachment exists. */
	if (request_prev_result_json(req, out, err))
		return -1;
	if (request_opt_in(req, &optin, err)) {
		request_config_warn(req, "ADD");
		return failure_policy_undecided(req, "ADD", err);
	}
	if (!optin.enabled) {
		request_config_warn(req, "ADD");
		pr_info("ADD %s (%s): not attached: %s", req->env.container_id, request_pod(req), optin.why);
		return 0;
	}
	pr_debug("ADD %s (%s): opted in: %s", req->env.container_id, request_pod(req), optin.why);
	if (attach_pod(req, err) && failure_policy_add(req, err)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
