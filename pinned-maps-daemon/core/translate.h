/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes objects → frontends, with kube-proxy's semantics (pkg/proxy):
 * one Service and the EndpointSlices labelled with its name become a set of
 * frontends (cluster IPs, external IPs, load-balancer IPs, node ports), each
 * with its sorted, unique backends. Pure functions over cJSON: no maps, no
 * store, so the unit tests exercise exactly what the daemon runs.
 */
#ifndef SOCKLB_TRANSLATE_H
#define SOCKLB_TRANSLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "invalid_object.h"
#include "lbmap.h"

#define SOCKLB_DEFAULT_AFFINITY_TIMEOUT 10800 /* seconds; the API server's default */

struct translate_config {
	const char *node_name;
	/* Handle services whose service-proxy-name label equals this; NULL or "": those without the label. */
	const char *service_proxy_name;
};

/* What translation needs to know about the node the daemon runs on. */
struct node_view {
	const char *zone; /* topology.kubernetes.io/zone, NULL when unknown */
	size_t n_addrs;
	__be32 (*addrs)[4]; /* InternalIP and ExternalIP addresses, for node ports */
};

/* Read the daemon's own Node (NULL when not known yet: no zone, no node ports). */
int node_view_init(struct node_view *node, const cJSON *node_obj);
void node_view_release(struct node_view *node);

struct desired_frontend {
	struct socklb_frontend fe;
	__u32 affinity_timeout; /* seconds, 0 = none */
	__u32 n_backends;
	struct socklb_endpoint *backends; /* sorted by endpoint_cmp, unique */
	/* internalTrafficPolicy Local, and the Service has endpoints but none on this node (kube-proxy's metric) */
	bool no_local_endpoints;
};

/* A Service's frontends or, when its objects are malformed, none and what is wrong with them. */
struct service_frontends {
	struct desired_frontend *items;
	size_t n;
	size_t cap;
	struct invalid_list invalid;
};

void service_frontends_release(struct service_frontends *sf);

/*
 * Translate one Service with the EndpointSlices that name it. Services this
 * daemon does not handle (headless, ExternalName, another proxy's) give 0
 * and no frontends. A malformed Service or EndpointSlice gives -EINVAL after
 * logging the object and the field; out then has no frontends, and
 * out->invalid names the Service (its first bad field) and every malformed
 * slice.
 */
int translate_service(const cJSON *svc, const cJSON *const *slices, size_t n_slices, const struct node_view *node,
		      const struct translate_config *cfg, struct service_frontends *out);

int frontend_cmp(const struct socklb_frontend *a, const struct socklb_frontend *b);
int endpoint_cmp(const struct socklb_endpoint *a, const struct socklb_endpoint *b);
/* Frontends as maps and logs show them: "10.96.0.10:53/UDP". */
#define FRONTEND_STRLEN (SOCKLB_ENDPOINT_STRLEN + 4)
void frontend_format(const struct socklb_frontend *fe, char *buf, size_t len);
/* Frontends as hash keys: explicit bytes, so struct padding never matters. */
#define FRONTEND_KEY_LEN 19
void frontend_key(const struct socklb_frontend *fe, unsigned char key[FRONTEND_KEY_LEN]);

#endif /* SOCKLB_TRANSLATE_H */
