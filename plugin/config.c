// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach_failures.h"
#include "cni_version.h"
#include "config.h"
#include "lbmap.h"
#include "log.h"

#define ANNOTATIONS_KEY "io.kubernetes.cri.pod-annotations"
#define VALID_ATTACHMENTS_KEY "cni.dev/valid-attachments"
/* The key's name in libcni's first GC implementation; accepted too. */
#define ATTACHMENTS_KEY "cni.dev/attachments"
/* The bpffs root gets "/links/<attachment>/<hook>" appended: keep room for it. */
#define BPFFS_ROOT_MAX (PATH_MAX - 256)
/* Kubernetes annotation keys: a 253-byte prefix, '/', a 63-byte name. */
#define ANNOTATION_KEY_MAX 317
#define DNS_LABEL_MAX 63

/* The msg names the key, the details say why: "msg: details" names it once. */
static int invalid(struct cni_error *err, const char *key, const char *why)
{
	char msg[CNI_ERROR_MSG_LEN];

	snprintf(msg, sizeof(msg), "invalid network configuration: %s", key);
	return cni_fail(err, CNI_ERR_INVALID_CONFIG, msg, "%s", why);
}

/* NULL (absent), or the string; a present non-string is an error naming label. */
static int get_string_at(const cJSON *obj, const char *key, const char *label, const char **out, struct cni_error *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item))
		return invalid(err, label, "must be a string");
	*out = item->valuestring;
	return 0;
}

static int get_string(const cJSON *obj, const char *key, const char **out, struct cni_error *err)
{
	return get_string_at(obj, key, key, out, err);
}

/* Absolute, and no ".." component: these name directories we create and remove. */
static int check_path(const char *key, const char *path, size_t max, struct cni_error *err)
{
	const char *p;

	if (path[0] != '/')
		return invalid(err, key, "must be an absolute path");
	if (strlen(path) >= max)
		return invalid(err, key, "path is too long");
	for (p = path; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return invalid(err, key, "must not contain a \"..\" component");
	return 0;
}

/* libcni's rule for network names. */
static int check_name(const char *name, struct cni_error *err)
{
	const char *p;

	if (!name || !*name)
		return invalid(err, "name", "missing");
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && (p == name || (*p != '_' && *p != '.' && *p != '-')))
			return invalid(err, "name",
				       "may contain only letters, digits, '_', '.' and '-', starting "
				       "with a letter or digit");
	return 0;
}

/* RFC 1123 label: what Kubernetes accepts as a namespace name. */
static bool is_dns_label(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > DNS_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static int parse_namespaces(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "namespaces"), *item;
	char key[32];
	size_t i = 0;

	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return invalid(err, "namespaces", "must be a list of namespace names (\"*\" = all)");
	conf->namespaces = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*conf->namespaces));
	if (!conf->namespaces)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "parsing namespaces");
	cJSON_ArrayForEach(item, list) {
		snprintf(key, sizeof(key), "namespaces[%zu]", i);
		if (!cJSON_IsString(item))
			return invalid(err, key, "must be a string");
		if (strcmp(item->valuestring, "*") != 0 && !is_dns_label(item->valuestring))
			return invalid(err, key, "must be \"*\" or a namespace name (lower-case letters, digits, '-')");
		conf->namespaces[i++] = item->valuestring;
	}
	conf->namespaces_count = i;
	return 0;
}

/* label names the config key in the error. */
static int check_annotation_key(const char *label, const char *key, struct cni_error *err)
{
	const char *p, *slash = strchr(key, '/');

	if (!*key || strlen(key) > ANNOTATION_KEY_MAX)
		return invalid(err, label, "must be a non-empty annotation key");
	if (slash && (slash == key || !slash[1] || strchr(slash + 1, '/')))
		return invalid(err, label, "must be [prefix/]name");
	for (p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./", *p))
			return invalid(err, label, "may contain only letters, digits, '-', '_', '.' and one '/'");
	return 0;
}

/* What the injectors write on every pod they give a proxy. */
static const char *const sidecar_defaults[] = { "sidecar.istio.io/status", "linkerd.io/proxy-version" };

/* Absent: Istio's and Linkerd's marks; [] turns the check off. */
static int parse_sidecar_annotations(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const char *const *defaults = sidecar_defaults;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "sidecarAnnotations"), *item;
	size_t n = sizeof(sidecar_defaults) / sizeof(sidecar_defaults[0]), i = 0;
	char key[48];

	if (list && !cJSON_IsNull(list) && !cJSON_IsArray(list))
		return invalid(err, "sidecarAnnotations", "must be a list of annotation keys");
	if (cJSON_IsArray(list))
		n = (size_t)cJSON_GetArraySize(list);
	conf->sidecar_annotations = calloc(n + 1, sizeof(*conf->sidecar_annotations));
	if (!conf->sidecar_annotations)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "parsing sidecarAnnotations");
	if (!cJSON_IsArray(list)) {
		memcpy(conf->sidecar_annotations, defaults, sizeof(sidecar_defaults));
		conf->sidecar_annotations_count = n;
		return 0;
	}
	cJSON_ArrayForEach(item, list) {
		snprintf(key, sizeof(key), "sidecarAnnotations[%zu]", i);
		if (!cJSON_IsString(item))
			return invalid(err, key, "must be a string");
		if (check_annotation_key(key, item->valuestring, err))
			return -1;
		conf->sidecar_annotations[i++] = item->valuestring;
	}
	conf->sidecar_annotations_count = i;
	return 0;
}

static int parse_log_level(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const char *level;

	conf->log_level = SOCKLB_LOG_INFO;
	if (get_string(doc, "logLevel", &level, err))
		return -1;
	if (level) {
		conf->log_level = socklb_log_level_parse(level);
		if (conf->log_level < 0)
			return invalid(err, "logLevel", "must be one of error, warn, info, debug");
	}
	return 0;
}

static int parse_runtime_config(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const cJSON *rc = cJSON_GetObjectItemCaseSensitive(doc, "runtimeConfig"), *annotations, *value;
	char key[ANNOTATION_KEY_MAX + 64];

	if (!rc || cJSON_IsNull(rc))
		return 0;
	if (!cJSON_IsObject(rc))
		return invalid(err, "runtimeConfig", "must be an object");
	if (get_string_at(rc, "cgroupPath", "runtimeConfig.cgroupPath", &conf->cgroup_path, err))
		return -1;
	if (conf->cgroup_path && !*conf->cgroup_path)
		conf->cgroup_path = NULL;

	annotations = cJSON_GetObjectItemCaseSensitive(rc, ANNOTATIONS_KEY);
	/* An invalid optInAnnotation names no annotation to read. */
	if (!annotations || cJSON_IsNull(annotations) || !conf->opt_in_annotation)
		return 0;
	if (!cJSON_IsObject(annotations))
		return invalid(err, "runtimeConfig." ANNOTATIONS_KEY, "must be an object of annotations");
	for (size_t i = 0; i < conf->sidecar_annotations_count && !conf->pod_sidecar_mark; i++)
		if (cJSON_GetObjectItemCaseSensitive(annotations, conf->sidecar_annotations[i]))
			conf->pod_sidecar_mark = conf->sidecar_annotations[i];
	value = cJSON_GetObjectItemCaseSensitive(annotations, conf->opt_in_annotation);
	if (!value)
		return 0;
	if (!cJSON_IsString(value)) {
		snprintf(key, sizeof(key), "runtimeConfig.%s[%s]", ANNOTATIONS_KEY, conf->opt_in_annotation);
		return invalid(err, key, "annotation values are strings");
	}
	conf->pod_opt_in = value->valuestring;
	return 0;
}

static int parse_valid_attachments(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const char *name = VALID_ATTACHMENTS_KEY;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, name), *item, *field;
	char key[96];
	size_t i = 0;

	if (!list) {
		name = ATTACHMENTS_KEY;
		list = cJSON_GetObjectItemCaseSensitive(doc, name);
	}
	if (!list)
		return 0;
	conf->has_valid_attachments = true;
	/* libcni sends null for "no attachment is valid" (a nil Go slice). */
	if (cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return invalid(err, name, "must be a list of {\"containerID\", \"ifname\"} objects");
	conf->valid_attachments = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*conf->valid_attachments));
	if (!conf->valid_attachments)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "parsing %s", name);
	cJSON_ArrayForEach(item, list) {
		snprintf(key, sizeof(key), "%s[%zu]", name, i);
		if (!cJSON_IsObject(item))
			return invalid(err, key, "must be an object with containerID and ifname");
		field = cJSON_GetObjectItemCaseSensitive(item, "containerID");
		if (!cJSON_IsString(field) || !*field->valuestring)
			return invalid(err, key, "containerID must be a non-empty string");
		conf->valid_attachments[i].container_id = field->valuestring;
		field = cJSON_GetObjectItemCaseSensitive(item, "ifname");
		if (!cJSON_IsString(field) || !*field->valuestring)
			return invalid(err, key, "ifname must be a non-empty string");
		conf->valid_attachments[i].ifname = field->valuestring;
		i++;
	}
	conf->valid_attachments_count = i;
	return 0;
}

static int parse_version(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	if (get_string(doc, "cniVersion", &conf->cni_version, err))
		return -1;
	if (!conf->cni_version)
		return invalid(err, "cniVersion", "missing");
	if (!cni_version_supported(conf->cni_version))
		return cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions",
				"config is \"%s\", plugin supports [%s]", conf->cni_version,
				cni_supported_versions_text());
	return 0;
}

static int parse_failure_policy(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const char *policy;

	conf->failure_policy = FAILURE_POLICY_IGNORE;
	if (get_string(doc, "failurePolicy", &policy, err))
		return -1;
	if (!policy || strcmp(policy, "Ignore") == 0)
		return 0;
	if (strcmp(policy, "Fail") == 0) {
		conf->failure_policy = FAILURE_POLICY_FAIL;
		return 0;
	}
	return invalid(err, "failurePolicy", "must be \"Fail\" or \"Ignore\"");
}

/* A path key of ours: its value, def when absent, NULL when bad (err says why). */
static const char *path_key(const cJSON *doc, const char *key, const char *def, size_t max, struct cni_error *err)
{
	const char *path;

	if (get_string(doc, key, &path, err))
		return NULL;
	if (!path)
		return def;
	return check_path(key, path, max, err) ? NULL : path;
}

/* optInAnnotation, the default when absent, NULL when bad. */
static const char *opt_in_annotation(const cJSON *doc, struct cni_error *err)
{
	const char *key;

	if (get_string(doc, "optInAnnotation", &key, err))
		return NULL;
	if (!key)
		return SOCKLB_DEFAULT_OPT_IN_ANNOTATION;
	return check_annotation_key("optInAnnotation", key, err) ? NULL : key;
}

/*
 * socklb's own keys. A bad one stops nothing: conf->invalid keeps the first
 * error, and the key decides nothing (left unset: no bpffs root, no
 * namespaces, no annotation to read) or has its default (logging, the
 * failure policy, the attach-failure record).
 */
static void parse_own_keys(const cJSON *doc, struct plugin_config *conf)
{
	struct cni_error *err = &conf->invalid;

	conf->bpffs_root = path_key(doc, "bpffsRoot", SOCKLB_DEFAULT_BPFFS_ROOT, BPFFS_ROOT_MAX, err);
	conf->cgroup_root = path_key(doc, "cgroupRoot", NULL, BPFFS_ROOT_MAX, err);
	if (parse_namespaces(doc, conf, err))
		conf->namespaces_count = 0;
	conf->opt_in_annotation = opt_in_annotation(doc, err);
	/* A bad list keeps the default marks: a mesh pod stays out rather than losing its sidecar's view. */
	if (parse_sidecar_annotations(doc, conf, err)) {
		free(conf->sidecar_annotations);
		conf->sidecar_annotations = calloc(3, sizeof(*conf->sidecar_annotations));
		conf->sidecar_annotations_count = conf->sidecar_annotations ? 2 : 0;
		if (conf->sidecar_annotations)
			memcpy(conf->sidecar_annotations, sidecar_defaults, sizeof(sidecar_defaults));
	}
	conf->log_file = path_key(doc, "logFile", NULL, PATH_MAX, err);
	if (parse_log_level(doc, conf, err))
		conf->log_level = SOCKLB_LOG_INFO;
	if (parse_failure_policy(doc, conf, err))
		conf->failure_policy = FAILURE_POLICY_IGNORE;
	conf->attach_failures_file =
		path_key(doc, "attachFailuresFile", SOCKLB_DEFAULT_ATTACH_FAILURES_FILE, PATH_MAX, err)
			?: SOCKLB_DEFAULT_ATTACH_FAILURES_FILE;
}

static int parse_keys(const cJSON *doc, struct plugin_config *conf, struct cni_error *err)
{
	const cJSON *prev;

	if (parse_version(doc, conf, err))
		return -1;
	if (get_string(doc, "name", &conf->name, err) || check_name(conf->name, err))
		return -1;

	parse_own_keys(doc, conf);
	if (parse_runtime_config(doc, conf, err))
		return -1;

	prev = cJSON_GetObjectItemCaseSensitive(doc, "prevResult");
	if (prev && !cJSON_IsNull(prev)) {
		if (!cJSON_IsObject(prev))
			return invalid(err, "prevResult", "must be a CNI result object");
		conf->prev_result = prev;
	}
	return parse_valid_attachments(doc, conf, err);
}

int plugin_config_parse(const char *text, size_t len, struct plugin_config *conf, struct cni_error *err)
{
	const char *at;

	memset(conf, 0, sizeof(*conf));
	conf->doc = cJSON_ParseWithLength(text, len);
	if (!conf->doc) {
		at = cJSON_GetErrorPtr();
		return cni_fail(err, CNI_ERR_DECODE, "failed to decode the network configuration",
				"invalid JSON at byte %td of %zu", at && at >= text ? at - text : (ptrdiff_t)0, len);
	}
	if (!cJSON_IsObject(conf->doc))
		return cni_fail(err, CNI_ERR_DECODE, "failed to decode the network configuration",
				"the network configuration must be a JSON object");
	return parse_keys(conf->doc, conf, err);
}

void plugin_config_free(struct plugin_config *conf)
{
	free(conf->valid_attachments);
	free(conf->sidecar_annotations);
	free(conf->namespaces);
	cJSON_Delete(conf->doc);
	memset(conf, 0, sizeof(*conf));
}
