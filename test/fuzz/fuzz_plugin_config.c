// SPDX-License-Identifier: Apache-2.0
/*
 * The plugin's stdin: the network configuration as the runtime sends it, and
 * everything the verbs derive from it without touching the kernel: the
 * error JSON, prevResult in the request's version, the attachment
 * directories (GC's valid-attachments too), the pod cgroup candidates from
 * runtimeConfig.cgroupPath and the opt-in decision.
 *
 * Beyond "no crash, no leak", it checks what the code promises: a parse
 * either fails with a CNI error code and message or yields values that were
 * validated (supported cniVersion, absolute paths; a bad key of ours is kept
 * as error 7 and leaves no bpffs root only then), every output is JSON, and
 * no cgroup candidate leaves the cgroup root.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cni_error.h"
#include "cni_version.h"
#include "config.h"
#include "fuzz_common.h"
#include "optin.h"
#include "pod_cgroup.h"
#include "request.h"

#define MOUNT "/sys/fs/cgroup"

static int no_namespace_opted_in(const char *ns, void *ctx)
{
	(void)ns;
	(void)ctx;
	return NAMESPACE_UNSET;
}

static void check_error(const struct plugin_config *conf, const struct cni_error *err)
{
	const char *version =
		conf->cni_version && cni_version_supported(conf->cni_version) ? conf->cni_version : CNI_VERSION_LATEST;
	char *text = cni_error_json(err, version);
	cJSON *doc;

	if (err->code == 0 || !err->msg[0] || !text)
		abort();
	doc = cJSON_Parse(text);
	if (!cJSON_IsObject(doc) || cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "code")) != err->code)
		abort();
	cJSON_Delete(doc);
	free(text);
}

/* A candidate is root or mount, then components that are never "..". */
static int under(const char *path, const char *base)
{
	size_t n = strcmp(base, "/") ? strlen(base) : 0;
	const char *p;

	if (strncmp(path, base, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return 0;
	for (p = path + n; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return 0;
	return 1;
}

/* ADD's result: prevResult in the request's version, or error 7 when it cannot be converted. */
static void check_prev_result(const struct cni_request *req)
{
	const char *to = req->conf.cni_version;
	const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req->conf.prev_result, "cniVersion"));
	bool converted = from && from[0] && strcmp(from, to) != 0;
	const cJSON *ips, *ip;
	struct cni_error err = { 0 };
	char *out = NULL;
	cJSON *doc;

	if (request_prev_result_json(req, &out, &err) != 0) {
		if (err.code != CNI_ERR_INVALID_CONFIG || out)
			abort();
		check_error(&req->conf, &err);
		return;
	}
	doc = cJSON_Parse(out);
	if (!cJSON_IsObject(doc) || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "cniVersion")) ?: "", to) != 0)
		abort();
	/* A converted result has the target's shape: ips[].version in 0.x, none in 1.x. */
	ips = converted ? cJSON_GetObjectItemCaseSensitive(doc, "ips") : NULL;
	cJSON_ArrayForEach(ip, ips)
		if (!cJSON_GetObjectItemCaseSensitive(ip, "version") != cni_version_at_least(to, "1.0.0"))
			abort();
	cJSON_Delete(doc);
	free(out);
}

static void check_cgroup_candidates(const struct plugin_config *conf)
{
	const char *root = conf->cgroup_root ? conf->cgroup_root : MOUNT;
	struct pod_cgroup_query q = { .root = root, .mount = MOUNT, .cgroup_path = conf->cgroup_path };
	struct pod_cgroup_candidates *c = malloc(sizeof(*c));
	struct cni_error err = { 0 };

	if (!c)
		abort();
	if (pod_cgroup_candidates(&q, c, &err) == 0) {
		for (size_t i = 0; i < c->count; i++)
			if (!under(c->path[i], root) && !under(c->path[i], MOUNT))
				abort();
	} else if (!err.code) {
		abort();
	}
	free(c);
}

static void check_parsed(struct cni_request *req)
{
	const struct plugin_config *conf = &req->conf;
	struct optin_input in = {
		.pod_annotation = conf->pod_opt_in,
		.sidecar_mark = conf->pod_sidecar_mark,
		.pod_namespace = "default",
		.config_namespaces = conf->namespaces,
		.config_namespaces_count = conf->namespaces_count,
		.namespace_lookup = no_namespace_opted_in,
	};
	struct optin_decision d;
	struct cni_error err = { 0 };
	char dir[PATH_MAX];

	if (!cni_version_supported(conf->cni_version) || !conf->name || !conf->name[0] ||
	    (conf->bpffs_root && conf->bpffs_root[0] != '/') || (conf->cgroup_root && conf->cgroup_root[0] != '/') ||
	    conf->attach_failures_file[0] != '/')
		abort();
	if (conf->invalid.code) {
		if (conf->invalid.code != CNI_ERR_INVALID_CONFIG)
			abort();
		check_error(conf, &conf->invalid);
	} else if (!conf->bpffs_root || !conf->opt_in_annotation) {
		abort();
	}
	if (optin_decide(&in, &d) != 0)
		abort();
	/* Without a valid bpffs root the verbs name no attachment directory. */
	if (!conf->bpffs_root)
		goto rest;
	if (request_attachment_dir(req, dir, sizeof(dir), &err) == 0 &&
	    strncmp(dir, conf->bpffs_root, strlen(conf->bpffs_root)) != 0)
		abort();
	for (size_t i = 0; i < conf->valid_attachments_count; i++) {
		req->env.container_id = conf->valid_attachments[i].container_id;
		req->env.ifname = conf->valid_attachments[i].ifname;
		memset(&err, 0, sizeof(err));
		request_attachment_dir(req, dir, sizeof(dir), &err);
	}
rest:
	check_cgroup_candidates(conf);
	if (conf->prev_result)
		check_prev_result(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_request req = { .env = { .container_id = "0123abcd", .ifname = "eth0" } };
	struct cni_error err = { 0 };

	fuzz_logs_quiet();
	if (plugin_config_parse((const char *)data, size, &req.conf, &err) == 0)
		check_parsed(&req);
	else
		check_error(&req.conf, &err);
	plugin_config_free(&req.conf);
	return 0;
}
