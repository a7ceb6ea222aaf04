/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Does this pod get socket load balancing? (DESIGN.md "Opt-in")
 *   1. the pod annotation (from runtimeConfig) "true" or "false" decides;
 *   2. else the namespace is in the config's namespaces list ("*" = all);
 *   3. else the namespace is in the opt-in map the daemon publishes;
 *   4. else no.
 * The map is only read when steps 1 and 2 did not decide: most ADDs on a
 * node with a namespace list never open it.
 */
#ifndef SOCKLB_PLUGIN_OPTIN_H
#define SOCKLB_PLUGIN_OPTIN_H

#include <stdbool.h>
#include <stddef.h>

/* 1 when the namespace opted in, 0 when not, negative errno when it cannot tell. */
typedef int (*optin_namespace_lookup_fn)(const char *ns, void *ctx);

struct optin_input {
	const char *pod_annotation; /* value of the opt-in annotation; NULL when absent */
	const char *pod_namespace; /* K8S_POD_NAMESPACE; NULL when unknown */
	const char *const *config_namespaces;
	size_t config_namespaces_count;
	optin_namespace_lookup_fn namespace_lookup; /* the daemon's map */
	void *lookup_ctx;
};

struct optin_decision {
	bool enabled;
	char why[160]; /* for the log: which rule decided */
};

/* 0 with the decision, or the lookup's negative errno. */
int optin_decide(const struct optin_input *in, struct optin_decision *out);

#endif /* SOCKLB_PLUGIN_OPTIN_H */
