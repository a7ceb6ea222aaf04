/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the daemon's objects come from, behind one interface: the API server
 * (kube/) or a JSON file or directory (file/). --source names the kind
 * ("kubernetes", "file:PATH"); each kind fills the store its own way and
 * says, through its operations, when a burst of its changes is all in the
 * store and how often its watches restarted. main.c knows only this.
 */
#ifndef SOCKLB_SOURCE_H
#define SOCKLB_SOURCE_H

#include <stdbool.h>

#include "err.h"
#include "metrics.h"
#include "store.h"

struct source_config {
	const char *spec; /* --source: "kubernetes" or "file:PATH" */
	const char *kubeconfig; /* the API server's kubeconfig (YAML or JSON); NULL: in-cluster */
	const char *context; /* its context to use; NULL: its current-context */
	const char *api_server; /* URL override, e.g. https://10.0.0.1:6443; NULL: in-cluster or kubeconfig */
	const char *node_name; /* this node's Node object to watch; NULL: none */
	const char *service_proxy_name; /* "" or NULL: the Services without the label */
	bool once; /* one complete load, then no watching */
};

struct source;

struct source_ops {
	/*
	 * Wait until the changes that woke the caller are all in the store, so
	 * that they cost one sync pass: a file load writes everything it
	 * changed at once, a watch one object after another (a burst ends when
	 * the store has been quiet a moment). Each kind bounds its own wait.
	 */
	void (*wait_written)(struct source *src);
	/* Watches restarted after the first one; NULL: the kind has none. */
	unsigned long (*restarts)(const struct source *src);
	/* Stop its threads (nothing writes to the store afterwards) and free it. */
	void (*free)(struct source *src);
};

/* The first member of each kind's own struct. */
struct source {
	const struct source_ops *ops;
};

/*
 * Check cfg before anything starts: the kind --source names, and the other
 * settings that must fit it. 0, or -EINVAL with e naming the setting.
 */
int source_check(const struct source_config *cfg, struct socklb_err *e);

/*
 * Start the source cfg names, feeding s: from then on until source_free()
 * it keeps s in sync (with cfg->once: it loads once, watches nothing).
 * metrics may be NULL.
 */
int source_start(const struct source_config *cfg, struct store *s, struct metrics *metrics, struct source **out,
		 struct socklb_err *e);

void source_wait_written(struct source *src);
unsigned long source_restarts(const struct source *src);
/* NULL is fine. */
void source_free(struct source *src);

#endif /* SOCKLB_SOURCE_H */
