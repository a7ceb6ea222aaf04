// SPDX-License-Identifier: Apache-2.0
#include "k8s_object.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "socklb.h"

const cJSON *k8s_field(const cJSON *obj, const char *key)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj))
		return NULL;
	item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!item || cJSON_IsNull(item))
		return NULL;
	return item;
}

const char *k8s_string(const cJSON *obj, const char *key)
{
	const cJSON *item = k8s_field(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *k8s_name(const cJSON *obj)
{
	return k8s_string(k8s_field(obj, "metadata"), "name");
}

const char *k8s_namespace(const cJSON *obj)
{
	const char *ns = k8s_string(k8s_field(obj, "metadata"), "namespace");

	return ns ? ns : "";
}

const char *k8s_label(const cJSON *obj, const char *key)
{
	return k8s_string(k8s_field(k8s_field(obj, "metadata"), "labels"), key);
}

const char *k8s_annotation(const cJSON *obj, const char *key)
{
	return k8s_string(k8s_field(k8s_field(obj, "metadata"), "annotations"), key);
}

bool k8s_namespace_opt_in(const cJSON *ns, __u32 *value)
{
	const char *enabled = k8s_annotation(ns, SOCKLB_ANNOTATION_ENABLED);

	if (!enabled)
		return false;
	if (strcmp(enabled, "true") == 0)
		*value = SOCKLB_NS_OPTED_IN;
	else if (strcmp(enabled, "false") == 0)
		*value = SOCKLB_NS_OPTED_OUT;
	else
		return false;
	return true;
}

static const char *const list_kinds[K8S_KIND_COUNT] = {
	[K8S_SERVICE] = "ServiceList",
	[K8S_ENDPOINTSLICE] = "EndpointSliceList",
	[K8S_NAMESPACE] = "NamespaceList",
	[K8S_NODE] = "NodeList",
};

int k8s_kind_parse(const char *kind)
{
	for (int k = 0; kind && k < K8S_KIND_COUNT; k++) {
		if (strcmp(kind, k8s_kind_name(k)) == 0)
			return k;
	}
	return -1;
}

int k8s_list_kind_parse(const char *kind)
{
	for (int k = 0; kind && k < K8S_KIND_COUNT; k++) {
		if (strcmp(kind, list_kinds[k]) == 0)
			return k;
	}
	return -1;
}

int k8s_time_parse(const char *s, double *seconds)
{
	struct tm tm = { 0 };
	const char *p;
	double fraction = 0;
	long offset = 0;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		char *end;

		fraction = strtod(p, &end);
		if (end == p + 1)
			return -EINVAL;
		p = end;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, n = 0;

		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5)
			return -EINVAL;
		offset = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*seconds = (double)(timegm(&tm) - offset) + fraction;
	return 0;
}
