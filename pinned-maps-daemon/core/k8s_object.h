/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes objects the daemon reads, in their compact form: per kind,
 * a fixed-size C struct holding only what translation reads (k8s_service.h,
 * k8s_endpoint_slice.h, k8s_namespace.h, k8s_node.h), with interned strings
 * (intern.h) and addresses as 16 bytes (IPv4 as ::ffff:a.b.c.d). Each object
 * is one allocation: its variable parts (ports, endpoints, addresses) follow
 * the struct. The sources decode each object into this form as it arrives
 * (k8s_decode.h) and never keep its JSON.
 *
 * A field that is not what the API allows is not an error of the decoder: the
 * object records what translation will say about it (the field and why), so
 * that translation names it as it always did, and keeps what still reads.
 */
#ifndef SOCKLB_K8S_OBJECT_H
#define SOCKLB_K8S_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum k8s_kind {
	K8S_SERVICE,
	K8S_ENDPOINTSLICE,
	K8S_NAMESPACE,
	K8S_NODE,
	K8S_KIND_COUNT,
};

#define K8S_LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define K8S_LABEL_SERVICE_PROXY_NAME "service.kubernetes.io/service-proxy-name"
#define K8S_LABEL_HEADLESS "service.kubernetes.io/headless"
#define K8S_LABEL_ZONE "topology.kubernetes.io/zone"
#define K8S_ANNOTATION_TRIGGER_TIME "endpoints.kubernetes.io/last-change-trigger-time"
#define SOCKLB_ANNOTATION_ENABLED "socklb.io/enabled"

/* What every object starts with. */
struct k8s_object {
	uint8_t kind; /* enum k8s_kind */
	uint32_t size; /* of the whole allocation */
	const char *ns; /* interned; "" for cluster-scoped kinds */
	const char *name; /* interned; NULL when metadata.name was missing or not a string */
	struct k8s_object *link; /* the store's: the next EndpointSlice of the same Service */
	/* The kind's fields follow: two objects are equal when these bytes are. */
};

/* "Service", "EndpointSlice", "Namespace", "Node" */
const char *k8s_kind_name(enum k8s_kind kind);
/* "Service" → K8S_SERVICE …; -1 when the kind is not one the daemon reads. */
int k8s_kind_parse(const char *kind);
/* "ServiceList" → K8S_SERVICE …; -1 otherwise. */
int k8s_list_kind_parse(const char *kind);

/* A zeroed object of kind with size bytes, holding references to ns and name (interned or NULL). */
struct k8s_object *k8s_object_alloc(enum k8s_kind kind, size_t size, const char *ns, const char *name);
/* Release the object and the strings it holds; NULL is fine. */
void k8s_object_free(struct k8s_object *obj);
/* The same kind, name and fields: replacing one with the other changes nothing. */
bool k8s_object_equal(const struct k8s_object *a, const struct k8s_object *b);

/*
 * "namespace/name" sorts before: the order that decides which of two
 * Services claiming one frontend wins. Compares as the joined strings do.
 */
int k8s_name_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b);

/* RFC 3339 time ("2024-05-01T10:00:00Z", optional fraction and offset) → seconds since the epoch. */
int k8s_time_parse(const char *s, double *seconds);

#endif /* SOCKLB_K8S_OBJECT_H */
