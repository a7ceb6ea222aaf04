/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What to ask the API server for: the resource path of each kind, the label
 * and field selectors (kube-proxy's), and the LIST / WATCH request URLs.
 */
#ifndef SOCKLB_KUBE_URL_H
#define SOCKLB_KUBE_URL_H

#include <stdbool.h>

#include "store.h"

struct kube_selectors {
	char *label; /* NULL = none */
	char *field; /* NULL = none */
};

/* "/api/v1/services", …: the cluster-wide collection of kind. */
const char *kube_resource_path(enum k8s_kind kind);
/* A label value as the API accepts it: ≤63 of [A-Za-z0-9-_.], alphanumeric at both ends, or empty. */
bool kube_label_value_valid(const char *value);
/* A Node name as the API accepts it: a DNS subdomain (RFC 1123), ≤253 of [a-z0-9-.], alphanumeric at both ends. */
bool kube_node_name_valid(const char *name);
/*
 * The selectors for watching kind: Services skip headless ones and those of
 * another proxy (service_proxy_name "" or NULL = only unlabelled services),
 * EndpointSlices skip headless ones (the translator matches them to services),
 * the Node is ours only. -EINVAL (logged) for a name the API would refuse.
 */
int kube_selectors_build(enum k8s_kind kind, const char *service_proxy_name, const char *node_name,
			 struct kube_selectors *sel);
void kube_selectors_free(struct kube_selectors *sel);
/* server + path + "?limit=N[&continue=C][&labelSelector=…][&fieldSelector=…]"; NULL on ENOMEM. */
char *kube_list_url(const char *server, enum k8s_kind kind, const struct kube_selectors *sel, unsigned int limit,
		    const char *continue_token);
/* server + path + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=N&resourceVersion=RV[&…selectors]". */
char *kube_watch_url(const char *server, enum k8s_kind kind, const struct kube_selectors *sel,
		     const char *resource_version, unsigned int timeout_s);

#endif /* SOCKLB_KUBE_URL_H */
