/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Does this pod get socket load balancing? (plugin/README.md "Which pods are load-balanced"), the most
 * specific word first:
 *   1. the pod annotation (from runtimeConfig) "true" or "false" decides;
 *   2. else a pod with a service-mesh sidecar (one of the config's
 *      sidecarAnnotations) is not opted in: the sidecar needs the original
 *      destination, which the socket LB would rewrite before it sees it;
 *   3. else the namespace's annotation "true" or "false", from the map the
 *      daemon publishes, decides (so "false" wins over the config's list);
 *   4. else the namespace is in the config's namespaces list ("*" = all);
 *   5. else no.
 * The map is read only when steps 1 and 2 did not decide.
 */
#ifndef SOCKLB_PLUGIN_OPTIN_H
#define SOCKLB_PLUGIN_OPTIN_H

#include <stdbool.h>
#include <stddef.h>

/* What the daemon's namespace map says of a namespace. */
enum namespace_opt_in {
	NAMESPACE_UNSET, /* not annotated, or no map yet */
	NAMESPACE_OPTED_IN,
	NAMESPACE_OPTED_OUT,
};

/* An enum namespace_opt_in, or negative errno when it cannot tell. */
typedef int (*optin_namespace_lookup_fn)(const char *ns, void *ctx);

struct optin_input {
	const char *pod_annotation; /* value of the opt-in annotation; NULL when absent */
	const char *sidecar_mark; /* the first sidecar annotation the pod carries; NULL when none */
	const char *pod_namespace; /* K8S_POD_NAMESPACE; NULL when unknown */
	const char *const *config_namespaces;
	size_t config_namespaces_count;
	optin_namespace_lookup_fn namespace_lookup; /* the daemon's map */
	void *lookup_ctx;
};

struct optin_decision {
	bool enabled;
	char why[192]; /* for the log: which rule decided */
};

/* 0 with the decision, or the lookup's negative errno. */
int optin_decide(const struct optin_input *in, struct optin_decision *out);

#endif /* SOCKLB_PLUGIN_OPTIN_H */
