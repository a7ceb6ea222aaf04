/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI verbs, dispatched from one table: what each needs from the
 * environment and the configuration, the first spec version that has it, and
 * the function that runs it. A verb returns 0 with its stdout text in *out
 * (NULL for none), or -1 with err filled in.
 */
#ifndef SOCKLB_PLUGIN_VERBS_H
#define SOCKLB_PLUGIN_VERBS_H

#include <stdbool.h>

#include "cni_error.h"
#include "request.h"

enum cni_env_need {
	NEED_CONTAINERID = 1 << 0,
	NEED_NETNS = 1 << 1,
	NEED_IFNAME = 1 << 2,
};

struct cni_verb {
	const char *name; /* CNI_COMMAND */
	const char *since; /* first spec version with this verb */
	unsigned int needs; /* enum cni_env_need bits */
	bool reads_config; /* VERSION answers whatever stdin holds */
	int (*run)(const struct cni_request *req, char **out, struct cni_error *err);
};

/* NULL for an unknown command. */
const struct cni_verb *cni_verb_find(const char *name);

int verb_add(const struct cni_request *req, char **out, struct cni_error *err);
int verb_del(const struct cni_request *req, char **out, struct cni_error *err);
int verb_check(const struct cni_request *req, char **out, struct cni_error *err);
int verb_gc(const struct cni_request *req, char **out, struct cni_error *err);
int verb_status(const struct cni_request *req, char **out, struct cni_error *err);
int verb_version(const struct cni_request *req, char **out, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_VERBS_H */
