// SPDX-License-Identifier: Apache-2.0
/*
 * STATUS (spec 1.1.0): could this node attach an opted-in pod right now? It
 * needs valid keys of ours, cgroup v2 where kubelet's pods live, a bpffs for
 * the pins, and programs the kernel accepts: STATUS makes sure they are
 * loaded, as the first ADD would (later calls only open the pins).
 *
 * What is missing is logged, and STATUS still succeeds: a runtime that sees
 * a plugin's STATUS fail (containerd's go-cni, CRI-O's ocicni) reports the
 * node's network not ready, and then no pod starts there, opted in or not
 * (README.md invariant 10). Every pod's ADD is served: failurePolicy decides
 * what becomes of an opted-in one.
 */
#include <errno.h>
#include <string.h>

#include "datapath.h"
#include "log.h"
#include "pod_cgroup.h"
#include "verbs.h"

static int check_node(const struct cni_request *req, struct cni_error *err)
{
	const char *root = req->conf.bpffs_root;
	struct socklb_programs progs;
	int ret;

	if (req->conf.invalid.code) {
		*err = req->conf.invalid;
		return -1;
	}
	if (cgroup_root_check(req->conf.cgroup_root, err))
		return -1;
	if (request_bpffs_check(req, err))
		return -1;
	ret = socklb_programs_open(root, NULL, &progs);
	if (ret)
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_PROGRAMS), "the datapath does not load",
				"datapath %s under %s: %s", socklb_datapath_id(), root, strerror(-ret));
	socklb_programs_close(&progs);
	return 0;
}

int verb_status(const struct cni_request *req, char **out, struct cni_error *err)
{
	*out = NULL;
	if (check_node(req, err)) {
		pr_err("STATUS: socklb cannot attach pods on this node: %s: %s; an opted-in pod %s", err->msg,
		       err->details,
		       req->conf.failure_policy == FAILURE_POLICY_FAIL
			       ? "fails to start (failurePolicy Fail)"
			       : "starts without socklb (failurePolicy Ignore)");
		memset(err, 0, sizeof(*err));
		return 0;
	}
	pr_debug("STATUS: datapath %s ready under %s", socklb_datapath_id(), req->conf.bpffs_root);
	return 0;
}
