// SPDX-License-Identifier: Apache-2.0
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "kube_config.h"
#include "kube_token.h"
#include "kube_url.h"
#include "kube_watch.h"
#include "log.h"

/* After a change, wait this long for more: a burst of watch events becomes one sync pass. */
#define BATCH_QUIET_MS 2
#define BATCH_MAX_MS 50

struct kube_source {
	struct source base;
	struct kube_conn conn;
	struct kube_token token;
	struct kube_watch_env env;
	struct kube_watcher *watchers[K8S_KIND_COUNT];
	bool curl_ready;
	bool env_ready;
};

static int load_conn(const struct kube_source_config *cfg, struct kube_conn *conn, struct socklb_err *e)
{
	int err;

	if (!cfg->source.kubeconfig)
		return kube_conn_in_cluster(cfg->sa_dir ? cfg->sa_dir : KUBE_DEFAULT_SA_DIR, cfg->source.api_server,
					    conn, e);
	err = kube_conn_from_kubeconfig(cfg->source.kubeconfig, cfg->source.context, conn, e);
	if (!err && cfg->source.api_server)
		err = kube_conn_set_server(conn, cfg->source.api_server, "--api-server", e);
	if (err)
		kube_conn_free(conn);
	return err;
}

static const char *auth_description(const struct kube_conn *c)
{
	bool cert = c->cert_file || c->cert.data;

	if (c->exec)
		return "exec credential plugin";
	if (c->token_file)
		return cert ? "client certificate and token file" : "token file";
	if (c->token)
		return cert ? "client certificate and token" : "token";
	return "client certificate";
}

int kube_source_start(const struct kube_source_config *cfg, struct store *s, struct kube_source **out,
		      struct socklb_err *e)
{
	struct kube_selectors sel[K8S_KIND_COUNT] = { 0 };
	struct kube_source *ks = calloc(1, sizeof(*ks));
	CURLcode rc;
	int err;

	if (!ks)
		return socklb_fail(e, -ENOMEM, "out of memory starting the Kubernetes source");
	err = load_conn(cfg, &ks->conn, e);
	if (err)
		goto err;
	err = kube_token_init(&ks->token, ks->conn.token, ks->conn.token_file, ks->conn.exec, e);
	if (err)
		goto err;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		if (k == K8S_NODE && !cfg->source.node_name)
			continue;
		err = kube_selectors_build(k, cfg->source.service_proxy_name, cfg->source.node_name, &sel[k], e);
		if (err)
			goto err;
	}
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		err = socklb_fail(e, -EIO, "libcurl initialisation failed: %s", curl_easy_strerror(rc));
		goto err;
	}
	ks->curl_ready = true;
	err = kube_watch_env_init(&ks->env);
	if (err) {
		socklb_fail(e, err, "cannot set up the watchers: %s", strerror(-err));
		goto err;
	}
	ks->env_ready = true;
	ks->env.conn = &ks->conn;
	ks->env.token = &ks->token;
	ks->env.store = s;
	ks->env.watch_timeout_s = cfg->watch_timeout_s;
	ks->env.dead_watch_grace_s = cfg->dead_watch_grace_s;
	pr_info("kubernetes source: %s, server %s%s%s%s%s, %s%s%s, CA %s", ks->conn.origin, ks->conn.server,
		ks->conn.tls_server_name ? " as TLS name " : "",
		ks->conn.tls_server_name ? ks->conn.tls_server_name : "", ks->conn.proxy_url ? " through proxy " : "",
		ks->conn.proxy_url ? ks->conn.proxy_url : "", auth_description(&ks->conn), ks->conn.exec ? " " : "",
		ks->conn.exec ? ks->conn.exec->argv[0] : "",
		ks->conn.insecure  ? "none: the server's certificate is NOT verified (insecure-skip-tls-verify)"
		: ks->conn.ca_file ? ks->conn.ca_file
		: ks->conn.ca.data ? "inline"
				   : "the system's");

	if (!cfg->source.node_name) {
		/* no node to watch: its kind is complete, and empty, from the start */
		err = store_replace(s, K8S_NODE, NULL, 0);
		if (err) {
			socklb_fail(e, err, "cannot record that no Node is watched: %s", strerror(-err));
			goto err;
		}
	}
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		if (k == K8S_NODE && !cfg->source.node_name)
			continue;
		err = kube_watcher_start(&ks->env, k, &sel[k], &ks->watchers[k], e);
		if (err)
			goto err;
	}
	*out = ks;
	return 0;
err:
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		kube_selectors_free(&sel[k]);
	kube_source_stop(ks);
	return err;
}

void kube_source_stop(struct kube_source *ks)
{
	if (!ks)
		return;
	if (ks->env_ready) {
		kube_watch_env_stop(&ks->env);
		for (int k = 0; k < K8S_KIND_COUNT; k++)
			kube_watcher_join(ks->watchers[k]);
		kube_watch_env_destroy(&ks->env);
	}
	if (ks->curl_ready)
		curl_global_cleanup();
	kube_token_free(&ks->token);
	kube_conn_free(&ks->conn);
	free(ks);
}

unsigned long kube_source_restarts(const struct kube_source *ks)
{
	return ks ? atomic_load(&ks->env.restarts) : 0;
}

/* The source interface (source.h) ------------------------------------------ */

/* Watch events land one at a time: the burst is over once the store has been quiet a moment. */
static void kube_wait_written(struct source *src)
{
	struct kube_source *ks = (struct kube_source *)src;
	struct pollfd pfd = { .fd = store_event_fd(ks->env.store), .events = POLLIN };

	for (int waited = 0; waited < BATCH_MAX_MS; waited += BATCH_QUIET_MS) {
		store_drain_events(ks->env.store);
		if (poll(&pfd, 1, BATCH_QUIET_MS) <= 0)
			break;
	}
}

static unsigned long kube_restarts(const struct source *src)
{
	return kube_source_restarts((const struct kube_source *)src);
}

static void kube_free(struct source *src)
{
	kube_source_stop((struct kube_source *)src);
}

static const struct source_ops kube_ops = {
	.wait_written = kube_wait_written,
	.restarts = kube_restarts,
	.free = kube_free,
};

int kube_source_check(const struct source_config *cfg, const char *arg, struct socklb_err *e)
{
	(void)arg;
	if (cfg->context && !*cfg->context)
		return socklb_fail(e, -EINVAL, "--context must not be empty");
	if (cfg->context && !cfg->kubeconfig)
		return socklb_fail(e, -EINVAL, "--context needs --kubeconfig");
	return 0;
}

int kube_source_open(const struct source_config *cfg, const char *arg, struct store *s, struct metrics *metrics,
		     struct source **out, struct socklb_err *e)
{
	struct kube_source_config kc = { .source = *cfg };
	struct kube_source *ks;
	int err;

	(void)arg;
	(void)metrics;
	err = kube_source_start(&kc, s, &ks, e);
	if (err) {
		socklb_err_prefix(e, "cannot start the Kubernetes source");
		return err;
	}
	ks->base.ops = &kube_ops;
	*out = &ks->base;
	return 0;
}
