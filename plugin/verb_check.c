// SPDX-License-Identifier: Apache-2.0
/*
 * CHECK: an opted-in pod must still have every link pinned, attached to its
 * (live) cgroup and running socklb's program for its hook: this build's, or
 * an older build's that a pod attached before an upgrade keeps until DEL.
 * Under failurePolicy Ignore a pod may run without them: then CHECK logs
 * what is wrong and succeeds, as its ADD did.
 */
#include <limits.h>
#include <string.h>

#include "datapath.h"
#include "links.h"
#include "failure_policy.h"
#include "log.h"
#include "pod_cgroup.h"
#include "verbs.h"

static int check_links(const struct cni_request *req, const struct pod_cgroup *cg, struct cni_error *err)
{
	char dir[PATH_MAX], datapath[NAME_MAX + 1];
	struct socklb_programs progs;
	struct socklb_err why;
	int ret;

	if (request_datapath_open(req, &progs, dir, sizeof(dir), err))
		return -1;
	ret = socklb_attachment_check(req->conf.bpffs_root, &progs, dir, cg->id, datapath, sizeof(datapath), &why);
	socklb_programs_close(&progs);
	if (ret)
		return cni_fail(err, SOCKLB_ERR_CHECK, "the pod's socklb attachment is broken", "cgroup %s: %s",
				cg->path, why.msg);
	if (strcmp(datapath, socklb_datapath_id()) != 0)
		pr_info("CHECK %s (%s): attachment intact; it runs datapath %s, which an older plugin attached, not "
			"this "
			"plugin's %s (re-creating the pod moves it)",
			req->env.container_id, request_pod(req), datapath, socklb_datapath_id());
	else
		pr_debug("CHECK %s (%s): attachment intact", req->env.container_id, request_pod(req));
	return 0;
}

static int check_pod(const struct cni_request *req, struct cni_error *err)
{
	struct pod_cgroup cg;
	int ret;

	if (req->conf.invalid.code) {
		*err = req->conf.invalid;
		return -1;
	}
	/* A vanished pod cgroup fails here (error 100): its attachment is defunct. */
	if (pod_cgroup_open(req->conf.cgroup_root, req->conf.cgroup_path, req->args.pod_uid, &cg, err))
		return -1;
	ret = check_links(req, &cg, err);
	pod_cgroup_close(&cg);
	return ret;
}

int verb_check(const struct cni_request *req, char **out, struct cni_error *err)
{
	struct optin_decision optin;

	*out = NULL;
	if (!req->conf.prev_result)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "must be called as a chained plugin",
				"prevResult is missing: list socklb after the primary network plugin in a conflist");
	if (request_opt_in(req, &optin, err)) {
		request_config_warn(req, "CHECK");
		return failure_policy_undecided(req, "CHECK", err);
	}
	if (!optin.enabled) {
		request_config_warn(req, "CHECK");
		pr_debug("CHECK %s (%s): nothing to check: %s", req->env.container_id, request_pod(req), optin.why);
		return 0;
	}
	if (check_pod(req, err))
		return failure_policy_check(req, err);
	return 0;
}
