/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An exec credential plugin (client.authentication.k8s.io/v1 and v1beta1, the
 * kubeconfig's users[].user.exec: what EKS, GKE, AKS and OIDC helpers use):
 * run the command with its args and env, KUBERNETES_EXEC_INFO set as
 * client-go sets it, stdin /dev/null (never interactive: a daemon has no
 * terminal), stderr lines to our log, a timeout; read the ExecCredential it
 * prints. Caching and re-running belong to kube_token.
 */
#ifndef SOCKLB_KUBE_EXEC_H
#define SOCKLB_KUBE_EXEC_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "err.h"
#include "kube_config.h"

#define KUBE_EXEC_V1 "client.authentication.k8s.io/v1"
#define KUBE_EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
/* A plugin still running after this long is killed (with its process group). */
#define KUBE_EXEC_TIMEOUT_S 60
/* Of what the plugin prints: an ExecCredential with a certificate is a few kB. */
#define KUBE_EXEC_STDOUT_MAX (1u << 20)

/* What the plugin returned: a token, a client certificate, or both. */
struct kube_exec_cred {
	char *token; /* NULL: none */
	struct kube_blob cert; /* PEM; empty: none */
	struct kube_blob key;
	time_t expires; /* status.expirationTimestamp (wall clock); 0: does not expire */
};

/*
 * Run x once. 0 and *out filled, or a negative errno with e saying why:
 * -ENOENT (not found: e carries the installHint), -ETIMEDOUT, -ECANCELED
 * (stop was set), -EPROTO (it failed or printed no valid ExecCredential).
 */
int kube_exec_run(const struct kube_exec_config *x, const atomic_bool *stop, struct kube_exec_cred *out,
		  struct socklb_err *e);
void kube_exec_cred_free(struct kube_exec_cred *c);
/* "2024-01-02T03:04:05Z", "…05.123+01:00" → *t (UTC seconds); -EINVAL when not RFC 3339. */
int kube_rfc3339_parse(const char *s, time_t *t);

#endif /* SOCKLB_KUBE_EXEC_H */
