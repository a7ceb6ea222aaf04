/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential the watcher threads share: a bearer token, fixed or from a
 * file re-read every KUBE_TOKEN_REFRESH_S and after a 401 (projected service
 * account tokens rotate under us), or what an exec credential plugin returned
 * (a token and/or a client certificate), cached until KUBE_EXEC_RENEW_S
 * before its expirationTimestamp and re-run after a 401. Secrets are never
 * logged.
 */
#ifndef SOCKLB_KUBE_TOKEN_H
#define SOCKLB_KUBE_TOKEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "kube_config.h"

#define KUBE_TOKEN_REFRESH_S 60
/* A plugin's credential is renewed this long before it expires: a request must not outlive it. */
#define KUBE_EXEC_RENEW_S 10

struct kube_token {
	pthread_mutex_t lock;
	char *value; /* NULL = no bearer token (client certificate only) */
	char *file; /* NULL = value is fixed */
	struct timespec read_at; /* CLOCK_MONOTONIC */
	const struct kube_exec_config *exec; /* NULL = no plugin */
	struct kube_blob cert, key; /* the plugin's client certificate, PEM; empty: none */
	time_t expires; /* the plugin's credential (wall clock); 0: does not expire */
	unsigned long generation; /* of the current credential: a 401 on an older one re-runs nothing */
};

/* What one request presents (copies: the shared credential may change meanwhile). */
struct kube_credential {
	char *header; /* "Authorization: Bearer …", NULL: none */
	struct kube_blob cert, key; /* from the plugin; empty: the connection's own (kube_conn) */
	unsigned long generation;
};

/*
 * value: a fixed token; file: a token file (wins, read now: an unreadable or
 * empty file is an error naming it); exec: a plugin (run now: an error names
 * what failed). All NULL = no credential of ours (a client certificate).
 */
int kube_token_init(struct kube_token *t, const char *value, const char *file, const struct kube_exec_config *exec,
		    struct socklb_err *e);
/*
 * The credential for the next request. refused: the generation of the one
 * the API server just answered 401, or 0. A token file is re-read when its
 * copy is KUBE_TOKEN_REFRESH_S old or after a 401; a plugin re-runs when its
 * credential nears expiry or was refused. A failure keeps a credential that
 * has not expired (a warning); without one it returns -ENOKEY, or -ECANCELED
 * when stop was set while the plugin ran, with e saying what the plugin did.
 */
int kube_token_get(struct kube_token *t, unsigned long refused, const atomic_bool *stop, struct kube_credential *out,
		   struct socklb_err *e);
/* Wipe and free what kube_token_get() filled. */
void kube_credential_free(struct kube_credential *c);
void kube_token_free(struct kube_token *t);

#endif /* SOCKLB_KUBE_TOKEN_H */
