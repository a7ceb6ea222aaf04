/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading fields of Kubernetes objects held as cJSON. Absent and JSON null
 * are the same thing to the API (omitempty), so every getter treats them
 * alike and returns NULL.
 */
#ifndef SOCKLB_K8S_OBJECT_H
#define SOCKLB_K8S_OBJECT_H

#include <cjson/cJSON.h>
#include <linux/types.h>
#include <stdbool.h>

#include "store.h"

#define K8S_LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define K8S_LABEL_SERVICE_PROXY_NAME "service.kubernetes.io/service-proxy-name"
#define K8S_LABEL_HEADLESS "service.kubernetes.io/headless"
#define K8S_LABEL_ZONE "topology.kubernetes.io/zone"
#define K8S_ANNOTATION_TRIGGER_TIME "endpoints.kubernetes.io/last-change-trigger-time"
#define SOCKLB_ANNOTATION_ENABLED "socklb.io/enabled"

/* The member key of obj, or NULL when obj is not an object or the member is absent or null. */
const cJSON *k8s_field(const cJSON *obj, const char *key);
/* The string member key; NULL when absent, null or not a string. */
const char *k8s_string(const cJSON *obj, const char *key);

const char *k8s_name(const cJSON *obj);
/* "" for cluster-scoped objects. */
const char *k8s_namespace(const cJSON *obj);
const char *k8s_label(const cJSON *obj, const char *key);
const char *k8s_annotation(const cJSON *obj, const char *key);

/*
 * A Namespace opts its pods in with the annotation socklb.io/enabled "true",
 * out with "false" (exactly, as Kubernetes booleans go): true with the
 * namespace map's value (SOCKLB_NS_OPTED_IN or _OUT), false when it says
 * neither.
 */
bool k8s_namespace_opt_in(const cJSON *ns, __u32 *value);

/* "Service" → K8S_SERVICE …; -1 when the kind is not one the daemon reads. */
int k8s_kind_parse(const char *kind);
/* "ServiceList" → K8S_SERVICE …; -1 otherwise. */
int k8s_list_kind_parse(const char *kind);

/* RFC 3339 time ("2024-05-01T10:00:00Z", optional fraction and offset) → seconds since the epoch. */
int k8s_time_parse(const char *s, double *seconds);

#endif /* SOCKLB_K8S_OBJECT_H */
