/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One kind's list+watch loop, in its own thread: paginated LIST into
 * store_replace(), then WATCH from the list's resourceVersion, events into
 * store_upsert()/store_delete(); a 410 Gone relists, anything else re-watches
 * from the last resourceVersion seen, with backoff when it failed.
 */
#ifndef SOCKLB_KUBE_WATCH_H
#define SOCKLB_KUBE_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kube_config.h"
#include "kube_token.h"
#include "kube_url.h"
#include "store.h"

#define KUBE_LIST_PAGE_SIZE 500
/* The server ends each watch after a random 240–360 s, so watchers do not reconnect in step. */
#define KUBE_WATCH_TIMEOUT_MIN_S 240
#define KUBE_WATCH_TIMEOUT_MAX_S 360
/* A watch silent (no event, no bookmark) this long past its timeout is dead. */
#define KUBE_DEAD_WATCH_GRACE_S 30
/* A LIST page that sends nothing for this long is abandoned. */
#define KUBE_LIST_IDLE_TIMEOUT_S 60
#define KUBE_BACKOFF_MIN_MS 250
#define KUBE_BACKOFF_MAX_MS 10000

/* What the watchers share; owned by the kube source. */
struct kube_watch_env {
	const struct kube_conn *conn;
	struct kube_token *token;
	struct store *store;
	unsigned int watch_timeout_s; /* 0 = jittered KUBE_WATCH_TIMEOUT_MIN_S..MAX_S */
	unsigned int dead_watch_grace_s; /* 0 = KUBE_DEAD_WATCH_GRACE_S */
	atomic_bool stop;
	atomic_ulong restarts;
	pthread_mutex_t lock; /* with wake: backoff sleeps that stop at once */
	pthread_cond_t wake;
};

struct kube_watcher;

int kube_watch_env_init(struct kube_watch_env *env);
/* Set stop and wake every sleeping watcher; each one's transfer aborts within a second. */
void kube_watch_env_stop(struct kube_watch_env *env);
void kube_watch_env_destroy(struct kube_watch_env *env);

/* Start the thread for kind with these selectors (taken over, also on error). */
int kube_watcher_start(struct kube_watch_env *env, enum k8s_kind kind, struct kube_selectors *sel,
		       struct kube_watcher **out, struct socklb_err *e);
/* Wait for the thread (after kube_watch_env_stop()) and free it; NULL is a no-op. */
void kube_watcher_join(struct kube_watcher *w);

#endif /* SOCKLB_KUBE_WATCH_H */
