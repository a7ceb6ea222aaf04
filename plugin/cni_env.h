/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the runtime passes in the environment: CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME and CNI_ARGS (K=V;K=V with the Kubernetes pod
 * identity). CNI_PATH is not read: socklb delegates to no other plugin. Which variables a verb requires is the verb table's business;
 * this file reads and validates their values.
 */
#ifndef SOCKLB_PLUGIN_CNI_ENV_H
#define SOCKLB_PLUGIN_CNI_ENV_H

#include "cni_error.h"

struct cni_env {
	const char *command;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args;
};

/* The pod identity from CNI_ARGS; NULL when absent. Unknown keys are ignored. */
struct cni_args {
	const char *pod_namespace; /* K8S_POD_NAMESPACE */
	const char *pod_name; /* K8S_POD_NAME */
	const char *pod_uid; /* K8S_POD_UID */
	char *buf; /* owns the strings above */
};

typedef char *(*cni_getenv_fn)(const char *name);

/* Read the CNI_* variables; empty values count as absent (NULL). */
void cni_env_read(struct cni_env *env, cni_getenv_fn getenv_fn);

/*
 * Container ids are what the runtime chose, but they name a directory of ours:
 * only [A-Za-z0-9][A-Za-z0-9_.-]* is accepted (libcni's rule). Code 4 otherwise.
 */
int cni_container_id_validate(const char *id, struct cni_error *err);
/* Interface names as the kernel accepts them: 1-15 bytes, no '/', ':' or space, not "." or "..". */
int cni_ifname_validate(const char *ifname, struct cni_error *err);

/*
 * Parse CNI_ARGS (may be NULL or empty). A pair without '=' or with an empty
 * key is code 4; so is a K8S_POD_UID that is not a Kubernetes UID (it names
 * a cgroup directory). Release with cni_args_free().
 */
int cni_args_parse(const char *text, struct cni_args *args, struct cni_error *err);
void cni_args_free(struct cni_args *args);

#endif /* SOCKLB_PLUGIN_CNI_ENV_H */
