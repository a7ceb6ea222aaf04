// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_result.h"
#include "datapath.h"
#include "lbmap.h"
#include "links.h"
#include "log.h"
#include "request.h"

const char *request_pod(const struct cni_request *req)
{
	static char pod[160];

	snprintf(pod, sizeof(pod), "%s/%s", req->args.pod_namespace ?: "-", req->args.pod_name ?: "-");
	return pod;
}

void request_config_warn(const struct cni_request *req, const char *verb)
{
	const struct cni_error *bad = &req->conf.invalid;

	if (bad->code)
		pr_warn("%s: %s: %s; socklb attaches no pod until it is fixed (an opted-in pod: failurePolicy %s)",
			verb, bad->msg, bad->details,
			req->conf.failure_policy == FAILURE_POLICY_FAIL ? "Fail" : "Ignore");
}

/* The daemon's map may not exist yet (no daemon so far on this node): then no namespace is annotated. */
static int namespace_map_lookup(const char *ns, void *ctx)
{
	const char *root = ctx;
	struct socklb_maps maps;
	__u32 value;
	int ret;

	ret = socklb_maps_open_existing(root, &maps);
	if (ret == -ENOENT)
		return NAMESPACE_UNSET;
	if (ret)
		return ret;
	ret = socklb_namespace_get(&maps, ns, &value);
	socklb_maps_close(&maps);
	if (ret <= 0)
		return ret;
	return value == SOCKLB_NS_OPTED_OUT ? NAMESPACE_OPTED_OUT : NAMESPACE_OPTED_IN;
}

int request_opt_in(const struct cni_request *req, struct optin_decision *d, struct cni_error *err)
{
	const struct plugin_config *conf = &req->conf;
	struct optin_input in = {
		.pod_annotation = conf->pod_opt_in,
		.sidecar_mark = conf->pod_sidecar_mark,
		.pod_namespace = req->args.pod_namespace,
		.config_namespaces = conf->namespaces,
		.config_namespaces_count = conf->namespaces_count,
		/* An invalid bpffsRoot names no map: only the annotation and the list decide. */
		.namespace_lookup = conf->bpffs_root ? namespace_map_lookup : NULL,
		.lookup_ctx = (void *)conf->bpffs_root,
	};
	int ret = optin_decide(&in, d);

	if (ret)
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_NAMESPACE_MAP),
				"cannot read the namespace opt-in map", "namespace %s in the map under %s: %s",
				req->args.pod_namespace, conf->bpffs_root, strerror(-ret));
	return 0;
}

int request_attachment_dir(const struct cni_request *req, char *buf, size_t len, struct cni_error *err)
{
	int ret = socklb_attachment_dir(req->conf.bpffs_root, req->env.container_id, req->env.ifname, buf, len);

	if (ret)
		return cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid network configuration: bpffsRoot",
				"attachment directory for container %s, interface %s: %s", req->env.container_id,
				req->env.ifname, strerror(-ret));
	return 0;
}

int request_bpffs_check(const struct cni_request *req, struct cni_error *err)
{
	const char *root = req->conf.bpffs_root;
	int ret = socklb_bpffs_check(root);

	if (ret)
		return cni_fail(err, SOCKLB_ERR_BPFFS, "no bpffs at the bpffs root",
				"%s: %s (mount bpffs at its parent, or set bpffsRoot)", root,
				ret == -ENOTSUP ? "not on a bpf filesystem" : strerror(-ret));
	return 0;
}

int request_datapath_open(const struct cni_request *req, struct socklb_programs *progs, char *dir, size_t len,
			  struct cni_error *err)
{
	struct socklb_err why;
	int ret;

	if (request_attachment_dir(req, dir, len, err) || request_bpffs_check(req, err))
		return -1;
	ret = socklb_programs_open(req->conf.bpffs_root, NULL, progs, &why);
	if (ret)
		return cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_PROGRAMS), "cannot load the datapath programs",
				"%s", why.msg);
	if (progs->loaded)
		pr_info("loaded datapath %s into %s/prog", socklb_datapath_id(), req->conf.bpffs_root);
	return 0;
}

int request_prev_result_json(const struct cni_request *req, char **out, struct cni_error *err)
{
	struct cni_result_conversion conv;
	cJSON *result;
	char *text;

	*out = NULL;
	result = cni_result_convert(req->conf.prev_result, req->conf.cni_version, &conv, err);
	if (!result)
		return -1;
	if (conv.removed_count)
		pr_info("ADD %s (%s): prevResult converted from %s to %s without the %zu field(s) %s does not have: "
			"%s%s",
			req->env.container_id, request_pod(req), conv.from, req->conf.cni_version, conv.removed_count,
			req->conf.cni_version, conv.removed, conv.removed_listed < conv.removed_count ? ", ..." : "");
	else if (strcmp(conv.from, req->conf.cni_version) != 0)
		pr_debug("ADD %s (%s): prevResult converted from %s to %s", req->env.container_id, request_pod(req),
			 conv.from, req->conf.cni_version);
	text = cJSON_Print(result);
	cJSON_Delete(result);
	if (!text || asprintf(out, "%s\n", text) < 0) {
		*out = NULL;
		cJSON_free(text);
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "formatting the result");
	}
	cJSON_free(text);
	return 0;
}
