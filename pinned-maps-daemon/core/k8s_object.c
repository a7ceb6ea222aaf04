// SPDX-License-Identifier: Apache-2.0
#include "k8s_object.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intern.h"
#include "k8s_endpoint_slice.h"
#include "k8s_node.h"
#include "k8s_service.h"

static const char *const kind_names[K8S_KIND_COUNT] = {
	[K8S_SERVICE] = "Service",
	[K8S_ENDPOINTSLICE] = "EndpointSlice",
	[K8S_NAMESPACE] = "Namespace",
	[K8S_NODE] = "Node",
};

static const char *const list_kinds[K8S_KIND_COUNT] = {
	[K8S_SERVICE] = "ServiceList",
	[K8S_ENDPOINTSLICE] = "EndpointSliceList",
	[K8S_NAMESPACE] = "NamespaceList",
	[K8S_NODE] = "NodeList",
};

const char *k8s_kind_name(enum k8s_kind kind)
{
	return (unsigned int)kind < K8S_KIND_COUNT ? kind_names[kind] : "Unknown";
}

int k8s_kind_parse(const char *kind)
{
	for (int k = 0; kind && k < K8S_KIND_COUNT; k++) {
		if (strcmp(kind, kind_names[k]) == 0)
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

struct k8s_object *k8s_object_alloc(enum k8s_kind kind, size_t size, const char *ns, const char *name)
{
	struct k8s_object *obj = size <= UINT32_MAX ? calloc(1, size) : NULL;

	if (!obj)
		return NULL;
	obj->kind = (uint8_t)kind;
	obj->size = (uint32_t)size;
	obj->ns = ns;
	obj->name = name;
	return obj;
}

static void service_strings_put(const struct k8s_service *svc)
{
	intern_put(svc->proxy_name);
	intern_put(svc->fault);
	for (__u32 i = 0; i < svc->n_ports; i++)
		intern_put(k8s_service_ports(svc)[i].name);
}

static void slice_strings_put(const struct k8s_slice *s)
{
	intern_put(s->service);
	intern_put(s->fault);
	for (__u32 i = 0; i < s->n_ports; i++)
		intern_put(k8s_slice_ports(s)[i].name);
	for (__u32 i = 0; i < s->n_endpoints; i++)
		intern_put(k8s_slice_endpoints(s)[i].node_name);
	for (__u32 i = 0; i < s->n_hint_names; i++)
		intern_put(k8s_slice_hint_names(s)[i]);
}

void k8s_object_free(struct k8s_object *obj)
{
	if (!obj)
		return;
	switch (obj->kind) {
	case K8S_SERVICE:
		service_strings_put((const struct k8s_service *)obj);
		break;
	case K8S_ENDPOINTSLICE:
		slice_strings_put((const struct k8s_slice *)obj);
		break;
	case K8S_NODE:
		intern_put(((const struct k8s_node *)obj)->zone);
		for (__u32 i = 0; i < ((const struct k8s_node *)obj)->n_ignored; i++)
			intern_put(k8s_node_ignored((const struct k8s_node *)obj)[i]);
		break;
	default:
		break;
	}
	intern_put(obj->ns);
	intern_put(obj->name);
	free(obj);
}

bool k8s_object_equal(const struct k8s_object *a, const struct k8s_object *b)
{
	size_t head = sizeof(struct k8s_object);

	return a->kind == b->kind && a->size == b->size && a->ns == b->ns && a->name == b->name &&
	       memcmp((const char *)a + head, (const char *)b + head, a->size - head) == 0;
}

/* The byte at i of "ns/name", or 0 past its end. */
static unsigned char joined_at(const char *ns, size_t ns_len, const char *name, size_t i)
{
	if (i < ns_len)
		return (unsigned char)ns[i];
	if (i == ns_len)
		return '/';
	return (unsigned char)name[i - ns_len - 1];
}

int k8s_name_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
	size_t la = strlen(ns_a), lb = strlen(ns_b);
	size_t end_a = la + 1 + strlen(name_a), end_b = lb + 1 + strlen(name_b);

	for (size_t i = 0;; i++) {
		unsigned char x = i < end_a ? joined_at(ns_a, la, name_a, i) : 0;
		unsigned char y = i < end_b ? joined_at(ns_b, lb, name_b, i) : 0;

		if (x != y)
			return x < y ? -1 : 1;
		if (!x)
			return 0;
	}
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
