// SPDX-License-Identifier: Apache-2.0
/*
 * STATUS (spec 1.1.0): could this node serve an ADD right now? It needs
 * cgroup v2 where kubelet's pods live, a bpffs for the pins, and programs
 * the kernel accepts: STATUS makes sure they are loaded, as the first ADD
 * would (later calls only open the pins). Error 50 says what is missing.
 */
#include <errno.h>
#include <string.h>

#include "datapath.h"
#include "log.h"
#include "pod_cgroup.h"
#include "verbs.h"

int verb_status(const struct cni_request *req, char **out, struct cni_error *err)
{
	const char *root = req->conf.bpffs_root;
	struct socklb_programs progs;
	int ret;

	*out = NULL;
	if (cgroup_root_check(req->conf.cgroup_root, err))
		return -1;
	ret = socklb_bpffs_check(root);
	if (ret)
		return cni_fail(err, CNI_ERR_NOT_AVAILABLE, "socklb cannot serve ADD: no bpffs",
				"bpffs root %s: %s (mount bpffs at its parent, or set bpffsRoot)", root,
				ret == -ENOTSUP ? "not on a bpf filesystem" : strerror(-ret));
	ret = socklb_programs_open(root, NULL, &progs);
	if (ret)
		return cni_fail(err, CNI_ERR_NOT_AVAILABLE, "socklb cannot serve ADD: the datapath does not load",
				"datapath %s under %s: %s", socklb_datapath_id(), root, strerror(-ret));
	pr_debug("STATUS: datapath %s ready under %s", socklb_datapath_id(), root);
	socklb_programs_close(&progs);
	return 0;
}
