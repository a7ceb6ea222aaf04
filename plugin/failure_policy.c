// SPDX-License-Identifier: Apache-2.0
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "attach_failures.h"
#include "failure_policy.h"
#include "log.h"

static void count(const struct cni_request *req, bool ignored, const struct cni_error *err)
{
	char text[CNI_ERROR_MSG_LEN + CNI_ERROR_DETAILS_LEN + 2];
	const char *path = req->conf.attach_failures_file;
	struct socklb_err why;

	snprintf(text, sizeof(text), "%s: %s", err->msg, err->details);
	if (socklb_attach_failures_record(path, ignored, request_pod(req), text, &why))
		pr_warn("ADD %s (%s): cannot count this failure: %s", req->env.container_id, request_pod(req), why.msg);
}

/* Log the error as what it is now, a pod without socklb, and clear it. */
static int stand_aside(const struct cni_request *req, const char *verb, const char *why, struct cni_error *err)
{
	pr_err("%s %s (%s): %s: %s; %s: the pod %s without socklb (kube-proxy serves its Services)", verb,
	       req->env.container_id, request_pod(req), err->msg, err->details, why,
	       strcmp(verb, "ADD") == 0 ? "starts" : "runs");
	memset(err, 0, sizeof(*err));
	return 0;
}

int failure_policy_add(const struct cni_request *req, struct cni_error *err)
{
	bool ignore = req->conf.failure_policy == FAILURE_POLICY_IGNORE;

	count(req, ignore, err);
	return ignore ? stand_aside(req, "ADD", "failurePolicy Ignore", err) : -1;
}

int failure_policy_check(const struct cni_request *req, struct cni_error *err)
{
	if (req->conf.failure_policy == FAILURE_POLICY_FAIL)
		return -1;
	return stand_aside(req, "CHECK", "failurePolicy Ignore", err);
}

int failure_policy_undecided(const struct cni_request *req, const char *verb, struct cni_error *err)
{
	if (strcmp(verb, "ADD") == 0)
		count(req, true, err);
	return stand_aside(req, verb, "cannot tell whether the pod opted in", err);
}
