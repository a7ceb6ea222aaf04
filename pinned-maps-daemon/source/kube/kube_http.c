// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_http.h"

static bool is_success(long status)
{
	return status >= 200 && status < 300;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct kube_http *h = userdata;
	size_t len = size * nmemb;
	size_t room;
	char *grown;

	clock_gettime(CLOCK_MONOTONIC, &h->last_byte);
	if (!h->status)
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
	if (is_success(h->status)) {
		h->cb_err = h->cb(data, len, h->ctx);
		return h->cb_err ? 0 : len;
	}
	room = KUBE_HTTP_ERROR_BODY_MAX - h->error_len;
	if (len > room)
		len = room;
	if (len) {
		grown = realloc(h->error_body, h->error_len + len + 1);
		if (!grown)
			return 0;
		h->error_body = grown;
		memcpy(h->error_body + h->error_len, data, len);
		h->error_len += len;
		h->error_body[h->error_len] = '\0';
	}
	return size * nmemb;
}

/* Called by libcurl at least once a second, also while nothing arrives. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct kube_http *h = userdata;
	struct timespec now;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (atomic_load(h->stop))
		return 1;
	if (!h->idle_timeout_s)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - h->last_byte.tv_sec >= (time_t)h->idle_timeout_s) {
		h->idle_expired = true;
		return 1;
	}
	return 0;
}

static CURLcode set_blob(CURL *curl, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob = { .data = b->data, .len = b->len, .flags = CURL_BLOB_COPY };

	return curl_easy_setopt(curl, opt, &blob);
}

/*
 * tls-server-name N with server https://HOST[:PORT][/prefix]: libcurl checks
 * the certificate against, and sends as SNI, the host of the URL it is given,
 * so requests go to the same URL naming N (h->server), connect to HOST:PORT
 * instead (CURLOPT_CONNECT_TO), and keep the server's Host header, as
 * client-go does. libcurl's URL parser takes the server apart.
 */
static int set_tls_server_name(struct kube_http *h, struct socklb_err *e)
{
	const struct kube_conn *c = h->conn;
	char *host = NULL, *port = NULL, *written_port = NULL, *url = NULL, *named = NULL, *entry = NULL;
	CURLU *u = curl_url();
	int err = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		err = socklb_fail(e, -EINVAL, "server %s: not a URL libcurl can take apart", c->server);
		goto out;
	}
	/* an IPv6 address is bracketed in a URL and in CURLOPT_CONNECT_TO, as libcurl gives the host */
	if (asprintf(&named, strchr(c->tls_server_name, ':') ? "[%s]" : "%s", c->tls_server_name) < 0 ||
	    asprintf(&entry, "%s:%s:%s:%s", named, port, host, port) < 0) {
		named = entry = NULL;
		err = -ENOMEM;
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &written_port, 0); /* none: the scheme's, not in Host */
	if (asprintf(&h->host_header, written_port ? "Host: %s:%s" : "Host: %s%s", host,
		     written_port ? written_port : "") < 0) {
		h->host_header = NULL;
		err = -ENOMEM;
		goto out;
	}
	h->connect_to = curl_slist_append(NULL, entry);
	if (!h->connect_to || curl_url_set(u, CURLUPART_HOST, named, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		err = -ENOMEM;
		goto out;
	}
	free(h->server);
	h->server = strdup(url);
	if (!h->server) {
		err = -ENOMEM;
		goto out;
	}
	if (curl_easy_setopt(h->curl, CURLOPT_CONNECT_TO, h->connect_to) != CURLE_OK)
		err = socklb_fail(e, -EINVAL, "libcurl refused CURLOPT_CONNECT_TO for tls-server-name");
out:
	curl_free(host);
	curl_free(port);
	curl_free(written_port);
	curl_free(url);
	free(named);
	free(entry);
	curl_url_cleanup(u);
	return err;
}

/* TLS material and the options every request shares. */
static int configure(struct kube_http *h, struct socklb_err *e)
{
	const struct kube_conn *c = h->conn;
	CURL *curl = h->curl;
	bool bad = false;

#define SETOPT(opt, val) (bad |= curl_easy_setopt(curl, opt, val) != CURLE_OK)

	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	/* only a kubeconfig's insecure-skip-tls-verify turns this off (warned about when it was read) */
	SETOPT(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->proxy_url)
		SETOPT(CURLOPT_PROXY, c->proxy_url);
	if (c->ca_file)
		SETOPT(CURLOPT_CAINFO, c->ca_file);
	else if (c->ca.data)
		bad |= set_blob(curl, CURLOPT_CAINFO_BLOB, &c->ca) != CURLE_OK;
	if (c->cert_file)
		SETOPT(CURLOPT_SSLCERT, c->cert_file);
	else if (c->cert.data)
		bad |= set_blob(curl, CURLOPT_SSLCERT_BLOB, &c->cert) != CURLE_OK;
	if (c->key_file)
		SETOPT(CURLOPT_SSLKEY, c->key_file);
	else if (c->key.data)
		bad |= set_blob(curl, CURLOPT_SSLKEY_BLOB, &c->key) != CURLE_OK;
	SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
	SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_CONNECTTIMEOUT, (long)KUBE_HTTP_CONNECT_TIMEOUT_S);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_TCP_KEEPIDLE, 30L);
	SETOPT(CURLOPT_TCP_KEEPINTVL, 10L);
	if (!c->no_compression)
		SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_USERAGENT, "socklb-syncd");
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, h);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(CURLOPT_XFERINFODATA, h);
#undef SETOPT
	if (bad)
		return socklb_fail(e, -EINVAL,
				   "libcurl refused an option for %s (is libcurl ≥7.85 built with OpenSSL?)",
				   c->server);
	return c->tls_server_name ? set_tls_server_name(h, e) : 0;
}

int kube_http_init(struct kube_http *h, const struct kube_conn *conn, struct kube_token *token, const atomic_bool *stop,
		   struct socklb_err *e)
{
	int err;

	memset(h, 0, sizeof(*h));
	h->conn = conn;
	h->token = token;
	h->stop = stop;
	h->server = strdup(conn->server);
	h->curl = curl_easy_init();
	if (!h->server || !h->curl) {
		kube_http_free(h);
		return socklb_fail(e, -ENOMEM, "libcurl cannot create a handle");
	}
	err = configure(h, e);
	if (err)
		kube_http_free(h);
	return err;
}

void kube_http_free(struct kube_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->connect_to);
	free(h->server);
	free(h->host_header);
	free(h->error_body);
	memset(h, 0, sizeof(*h));
}

/* h->message from a non-2xx body: the Status object's message, or the body's start. */
static void summarise_error_body(struct kube_http *h)
{
	cJSON *status = h->error_body ? cJSON_Parse(h->error_body) : NULL;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(status, "message");

	if (cJSON_IsString(msg))
		snprintf(h->message, sizeof(h->message), "%s", msg->valuestring);
	else if (h->error_body)
		snprintf(h->message, sizeof(h->message), "%.200s", h->error_body);
	else
		snprintf(h->message, sizeof(h->message), "(empty body)");
	for (char *p = h->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	cJSON_Delete(status);
}

int kube_http_get(struct kube_http *h, const char *url, bool reload_token, unsigned int idle_timeout_s, kube_body_cb cb,
		  void *ctx, long *status)
{
	struct curl_slist *headers = NULL, *more;
	struct kube_credential cred;
	CURLcode rc;
	int err;

	*status = 0;
	h->cb = cb;
	h->ctx = ctx;
	h->cb_err = 0;
	h->status = 0;
	h->idle_timeout_s = idle_timeout_s;
	h->idle_expired = false;
	h->errbuf[0] = '\0';
	h->message[0] = '\0';
	h->error_len = 0;
	clock_gettime(CLOCK_MONOTONIC, &h->last_byte);

	err = kube_token_get(h->token, reload_token ? h->generation : 0, h->stop, &cred, &h->cred_error);
	if (err)
		return err;
	h->generation = cred.generation;
	more = curl_slist_append(headers, "Accept: application/json");
	if (more)
		headers = more;
	if (more && h->host_header) {
		more = curl_slist_append(headers, h->host_header);
		if (more)
			headers = more;
	}
	if (more && cred.header) {
		more = curl_slist_append(headers, cred.header);
		if (more)
			headers = more;
	}
	/* an exec plugin's certificate; libcurl reuses no connection made with another one */
	if (more && cred.cert.data &&
	    (set_blob(h->curl, CURLOPT_SSLCERT_BLOB, &cred.cert) != CURLE_OK ||
	     set_blob(h->curl, CURLOPT_SSLKEY_BLOB, &cred.key) != CURLE_OK))
		more = NULL;
	kube_credential_free(&cred);
	if (!more) {
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	rc = curl_easy_perform(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);

	if (rc == CURLE_WRITE_ERROR && h->cb_err)
		return h->cb_err;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return h->idle_expired ? -ETIMEDOUT : -ECANCELED;
	if (rc != CURLE_OK) {
		if (!h->errbuf[0])
			snprintf(h->errbuf, sizeof(h->errbuf), "%s", curl_easy_strerror(rc));
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	if (!is_success(*status))
		summarise_error_body(h);
	return 0;
}
