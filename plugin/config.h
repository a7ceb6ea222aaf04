/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network configuration on stdin: the conflist entry (our keys), what the
 * runtime adds (cniVersion, name, runtimeConfig, prevResult) and, for GC, the
 * attachments to keep. Unknown keys are ignored.
 *
 * Keys (defaults):
 *   bpffsRoot           "/sys/fs/bpf/socklb"           where programs, maps and links are pinned
 *   cgroupRoot          cgroup v2 mount                where kubelet's cgroup hierarchy lives
 *   namespaces          []                             opted-in namespaces, "*" = all
 *   optInAnnotation     "socklb.io/enabled"            the pod annotation that opts in/out
 *   sidecarAnnotations  Istio's, Linkerd's             pod annotations that mark a mesh sidecar:
 *                                                      such a pod is opted in only by its own annotation
 *   logFile             none                           append logs there instead of stderr
 *   logLevel            "info"                         error, warn, info or debug
 *   failurePolicy       "Ignore"                       an opted-in pod that cannot be attached:
 *                                                      starts without socklb (Ignore) or fails (Fail)
 *   attachFailuresFile  "/run/socklb/attach-failures"  the attach-failure record (attach_failures.h)
 *
 * The plugin runs for every pod, so a bad value of one of these keys fails
 * nothing by itself (README.md invariant 10): it is kept in invalid (error 7
 * naming the key) and the verbs treat it as a failure of the opted-in pods
 * only. A bad value of what the runtime sends (cniVersion, name,
 * runtimeConfig, prevResult, the attachments to keep) is an error.
 */
#ifndef SOCKLB_PLUGIN_CONFIG_H
#define SOCKLB_PLUGIN_CONFIG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "cni_error.h"

#define SOCKLB_DEFAULT_OPT_IN_ANNOTATION "socklb.io/enabled"

/* One entry of cni.dev/valid-attachments. */
struct attachment_ref {
	const char *container_id;
	const char *ifname;
};

enum failure_policy {
	FAILURE_POLICY_IGNORE,
	FAILURE_POLICY_FAIL,
};

struct plugin_config {
	cJSON *doc; /* the parsed stdin; owns the strings below */
	const char *cni_version;
	const char *name;
	/* socklb's own keys; a bad one is in invalid */
	struct cni_error invalid; /* code 0: every key of ours is valid */
	const char *bpffs_root; /* NULL: the configured one is invalid */
	const char *cgroup_root; /* NULL: the cgroup v2 mount */
	const char **namespaces;
	size_t namespaces_count;
	const char *opt_in_annotation; /* NULL: the configured one is invalid */
	const char **sidecar_annotations;
	size_t sidecar_annotations_count;
	const char *log_file; /* NULL: log to stderr */
	int log_level; /* enum socklb_log_level */
	enum failure_policy failure_policy;
	const char *attach_failures_file;
	/* runtimeConfig, from the declared capabilities */
	const char *cgroup_path; /* "cgroupPath"; NULL when not sent */
	const char *pod_opt_in; /* the opt-in annotation's value; NULL when absent */
	const char *pod_sidecar_mark; /* the first of sidecar_annotations the pod has; NULL when none */
	const cJSON *prev_result; /* NULL when absent */
	/* GC only */
	bool has_valid_attachments;
	struct attachment_ref *valid_attachments;
	size_t valid_attachments_count;
};

/*
 * Parse and validate the configuration (len bytes of text, not necessarily
 * NUL-terminated). Errors: 6 when it is not a JSON object, 1 for a cniVersion
 * we do not speak, 7 for a bad key the runtime sends; a bad key of ours is
 * not an error here (conf->invalid). Whatever the result, release conf with
 * plugin_config_free(); after an error it holds what was parsed before it
 * (cni_version, to answer in the request's version).
 */
int plugin_config_parse(const char *text, size_t len, struct plugin_config *conf, struct cni_error *err);
void plugin_config_free(struct plugin_config *conf);

#endif /* SOCKLB_PLUGIN_CONFIG_H */
