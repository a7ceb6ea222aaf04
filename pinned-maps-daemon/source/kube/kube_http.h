/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTPS connection to the API server (a libcurl easy handle, one per
 * watcher thread): GET with the shared credential (kube_token), the body
 * streamed to a callback as it arrives, and two ways out of a transfer that
 * does not end by itself: the stop flag and an idle timer (no byte for N s).
 */
#ifndef SOCKLB_KUBE_HTTP_H
#define SOCKLB_KUBE_HTTP_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "kube_config.h"
#include "kube_token.h"

#define KUBE_HTTP_CONNECT_TIMEOUT_S 10
/* Kept of a non-2xx body: enough for any Status object. */
#define KUBE_HTTP_ERROR_BODY_MAX (64u << 10)

/* A piece of a 2xx body; non-zero aborts the transfer and is returned by kube_http_get(). */
typedef int (*kube_body_cb)(const char *data, size_t len, void *ctx);

struct kube_http {
	CURL *curl;
	const struct kube_conn *conn;
	struct kube_token *token;
	unsigned long generation; /* of the credential the last request presented */
	const atomic_bool *stop;
	/*
	 * What request URLs start with: conn->server, or with tls-server-name the
	 * same URL naming it (SNI, certificate check) while connect_to sends the
	 * connection to the server's host and host_header keeps its Host.
	 */
	char *server;
	struct curl_slist *connect_to; /* "NAME:PORT:HOST:PORT"; NULL without tls-server-name */
	char *host_header; /* "Host: HOST[:PORT]" as in conn->server; NULL without tls-server-name */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's text for a transport error */
	char message[512]; /* a non-2xx response's Status message (or body start) */
	struct socklb_err cred_error; /* why there was no credential to send (-ENOKEY, -ECANCELED) */
	/* one request */
	kube_body_cb cb;
	void *ctx;
	int cb_err;
	long status;
	unsigned int idle_timeout_s;
	bool idle_expired;
	struct timespec last_byte;
	char *error_body;
	size_t error_len;
};

int kube_http_init(struct kube_http *h, const struct kube_conn *conn, struct kube_token *token, const atomic_bool *stop,
		   struct socklb_err *e);
void kube_http_free(struct kube_http *h);
/*
 * GET url (h->server and a path); reload_token renews the credential first (after a 401 to the
 * last request: kube_token_get()'s refused).
 * idle_timeout_s 0 = no idle timer. Returns 0 when a response arrived
 * (*status; a non-2xx body is summarised in h->message), cb's non-zero value
 * when it aborted, -ECANCELED when stopped, -ETIMEDOUT when idle for
 * idle_timeout_s, -EIO for a transport error (h->errbuf), -ENOKEY when there
 * is no credential (an exec plugin failed: h->cred_error), -ENOMEM.
 */
int kube_http_get(struct kube_http *h, const char *url, bool reload_token, unsigned int idle_timeout_s, kube_body_cb cb,
		  void *ctx, long *status);

#endif /* SOCKLB_KUBE_HTTP_H */
