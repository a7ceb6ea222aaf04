/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes API source: one list+watch thread per kind (Services,
 * EndpointSlices, Namespaces, this Node) feeding the store. A LIST becomes a
 * store_replace(), watch events become store_upsert()/store_delete(), a 410
 * Gone becomes a relist. Threads run until kube_source_stop().
 */
#ifndef SOCKLB_KUBE_H
#define SOCKLB_KUBE_H

#include "source.h"
#include "store.h"

#define KUBE_DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_source_config {
	struct source_config source; /* the API server and what to watch, as --source kubernetes is given them */
	const char *sa_dir; /* NULL = KUBE_DEFAULT_SA_DIR (tests override) */
	unsigned int watch_timeout_s; /* 0 = jittered 240–360 s; tests shorten it */
	unsigned int dead_watch_grace_s; /* silence beyond the watch timeout that declares it dead; 0 = 30 s */
};

struct kube_source;

/*
 * Resolve the connection settings (errors, in e, name the missing field or
 * file) and start the watcher threads. Returns 0 or a negative errno; the
 * initial lists complete asynchronously (see store_complete()).
 */
int kube_source_start(const struct kube_source_config *cfg, struct store *s, struct kube_source **out,
		      struct socklb_err *e);
/* Stop and join every thread promptly, free everything; NULL is a no-op. */
void kube_source_stop(struct kube_source *ks);
/* Watch (re)starts after the first one of each kind, for metrics. */
unsigned long kube_source_restarts(const struct kube_source *ks);

/* `--source kubernetes` as a source (source.h): --context needs --kubeconfig. */
int kube_source_check(const struct source_config *cfg, const char *arg, struct socklb_err *e);
/* kube_source_start() with cfg's settings; --once waits for the initial lists like the daemon does. */
int kube_source_open(const struct source_config *cfg, const char *arg, struct store *s, struct metrics *metrics,
		     struct source **out, struct socklb_err *e);

#endif /* SOCKLB_KUBE_H */
