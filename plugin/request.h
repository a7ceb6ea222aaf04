/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One CNI invocation: environment, CNI_ARGS, configuration, stdin, and the
 * steps several verbs share (opt-in, naming the attachment, the result).
 */
#ifndef SOCKLB_PLUGIN_REQUEST_H
#define SOCKLB_PLUGIN_REQUEST_H

#include <limits.h>
#include <stddef.h>

#include "cni_env.h"
#include "cni_error.h"
#include "config.h"
#include "datapath.h"
#include "optin.h"

struct cni_request {
	struct cni_env env;
	struct cni_args args;
	struct plugin_config conf; /* parsed unless the verb reads no configuration */
	char *stdin_text;
	size_t stdin_len;
};

/* "<namespace>/<name>" of the pod for log lines, "-" parts when unknown. */
const char *request_pod(const struct cni_request *req);

/*
 * A bad key of ours that this verb does not fail on (the pod did not opt in,
 * DEL): say so, as a warning. Where the bad key is the verb's error, the
 * error says it, once.
 */
void request_config_warn(const struct cni_request *req, const char *verb);

/* Opt-in decision for this pod (optin.h), reading the daemon's namespace map when needed; error 106. */
int request_opt_in(const struct cni_request *req, struct optin_decision *d, struct cni_error *err);

/* This attachment's directory under the bpffs root; error 7 when the name does not fit. */
int request_attachment_dir(const struct cni_request *req, char *buf, size_t len, struct cni_error *err);

/* The bpffs root is on a bpffs (or will be, below its nearest existing ancestor); error 101. */
int request_bpffs_check(const struct cni_request *req, struct cni_error *err);

/*
 * The start of ADD and CHECK: this attachment's directory in dir, and this
 * build's programs opened (loaded and pinned by the node's first use); error
 * 7, 101 or 102. Close progs with socklb_programs_close().
 */
int request_datapath_open(const struct cni_request *req, struct socklb_programs *progs, char *dir, size_t len,
			  struct cni_error *err);

/*
 * prevResult converted to the request's version (cni_result.h), newline-terminated; logs the fields the
 * conversion removed. Error 7 when it cannot be converted, 107 when out of memory.
 */
int request_prev_result_json(const struct cni_request *req, char **out, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_REQUEST_H */
