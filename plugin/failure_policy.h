/* SPDX-License-Identifier: Apache-2.0 */
/*
 * failurePolicy: what becomes of an opted-in pod whose attachment cannot be
 * made (programs that do not load, no pod cgroup, no bpffs, a bad key of
 * ours). Fail: ADD returns the CNI error and the pod does not start. Ignore:
 * ADD prints prevResult, the pod starts without socklb (kube-proxy serves its
 * Services) and the error is logged. Every failed ADD is counted in the
 * attach-failure record (attach_failures.h), which socklb-syncd reports as
 * socklb_pod_attach_failures_total{policy}. A pod that did not opt in never
 * comes here: nothing of socklb fails it (README.md invariant 10).
 *
 * Each function takes the error that happened; it returns -1 with err kept
 * (the verb fails with it), or 0 with err cleared (the verb succeeds).
 */
#ifndef SOCKLB_PLUGIN_FAILURE_POLICY_H
#define SOCKLB_PLUGIN_FAILURE_POLICY_H

#include "cni_error.h"
#include "request.h"

/* ADD could not attach an opted-in pod: counted, then the policy decides. */
int failure_policy_add(const struct cni_request *req, struct cni_error *err);

/* CHECK found an opted-in pod's attachment missing or broken: the policy decides (not counted). */
int failure_policy_check(const struct cni_request *req, struct cni_error *err);

/*
 * The opt-in could not be decided (the namespace map is unreadable): the pod
 * may not have opted in, so it never fails; an ADD counts it as ignored.
 */
int failure_policy_undecided(const struct cni_request *req, const char *verb, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_FAILURE_POLICY_H */
