// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "k8s_object.h"
#include "kube_framer.h"
#include "kube_http.h"
#include "kube_watch.h"
#include "log.h"

/* A LIST page larger than this is refused rather than exhausting memory. */
#define LIST_PAGE_MAX (512u << 20)
/* Expired continue tokens restart a list at once this often; then it backs off like any failure. */
#define LIST_RESTARTS_MAX 3

/* Where a watch goes next. */
enum watch_next {
	NEXT_STOP,
	NEXT_RELIST,
	NEXT_WATCH, /* at once: the watch ended normally or the connection died silently */
	NEXT_BACKOFF, /* after a backoff delay: it failed */
};

/* Why a stream callback ended the transfer (positive, so never an errno). */
enum stream_end {
	STREAM_GONE = 1, /* ERROR event with code 410: our resourceVersion is compacted away */
	STREAM_FAILED, /* another ERROR event */
	STREAM_UNDECODABLE, /* a line that is not a watch event */
};

struct kube_watcher {
	struct kube_watch_env *env;
	enum k8s_kind kind;
	const char *resource; /* "services", for messages */
	struct kube_selectors sel;
	struct kube_http http;
	struct kube_framer framer;
	char *rv; /* last resourceVersion seen: the list's, then every event's */
	unsigned int failures; /* in a row, for the backoff */
	unsigned int seed;
	bool watched; /* a watch started before: the next one is a restart */
	bool reload_token; /* the last response was 401 */
	unsigned long events; /* of the current watch */
	char why[768]; /* what failed, logged with the backoff delay */
	pthread_t thread;
};

struct body {
	char *data;
	size_t len;
	size_t cap;
};

static bool stopping(const struct kube_watcher *w)
{
	return atomic_load(&w->env->stop);
}

/* Sleep ms, or less when stopped; false when stopped. */
static bool sleep_ms(struct kube_watch_env *env, unsigned int ms)
{
	struct timespec until;
	bool stopped;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&env->lock);
	while (!atomic_load(&env->stop) && pthread_cond_timedwait(&env->wake, &env->lock, &until) != ETIMEDOUT)
		;
	stopped = atomic_load(&env->stop);
	pthread_mutex_unlock(&env->lock);
	return !stopped;
}

/* Log what failed (w->why) with the delay, then wait: exponential, jittered, capped. */
static bool backoff(struct kube_watcher *w)
{
	unsigned int shift = w->failures < 6 ? w->failures : 6;
	unsigned int ms = KUBE_BACKOFF_MIN_MS << shift;

	if (ms > KUBE_BACKOFF_MAX_MS)
		ms = KUBE_BACKOFF_MAX_MS;
	ms = ms / 2 + (unsigned int)rand_r(&w->seed) % (ms / 2 + 1);
	w->failures++;
	pr_warn("%s; retrying in %u.%u s", w->why, ms / 1000, ms % 1000 / 100);
	return sleep_ms(w->env, ms);
}

static int set_rv(struct kube_watcher *w, const char *rv)
{
	char *copy;

	if (w->rv && strcmp(w->rv, rv) == 0)
		return 0;
	copy = strdup(rv);
	if (!copy)
		return -ENOMEM;
	free(w->rv);
	w->rv = copy;
	return 0;
}

/* The transfer's description for w->why. */
static const char *transfer_error(const struct kube_watcher *w, int err)
{
	if (err == -EIO)
		return w->http.errbuf;
	if (err == -ENOKEY)
		return w->http.cred_error.msg;
	return strerror(-err);
}

/* LIST ----------------------------------------------------------------------- */

static int body_append(const char *data, size_t len, void *ctx)
{
	struct body *b = ctx;
	size_t cap = b->cap ? b->cap : 65536;
	char *grown;

	if (b->len + len > LIST_PAGE_MAX)
		return -EFBIG;
	while (cap < b->len + len)
		cap *= 2;
	if (cap != b->cap) {
		grown = realloc(b->data, cap);
		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* Move one page's items into items; its resourceVersion and continue token out. */
static int take_page(struct kube_watcher *w, cJSON *page, cJSON *items, char **cont)
{
	const cJSON *meta = k8s_field(page, "metadata");
	const char *rv = k8s_string(meta, "resourceVersion");
	const char *next = k8s_string(meta, "continue");
	const char *api_version = k8s_string(page, "apiVersion");
	cJSON *page_items = cJSON_GetObjectItemCaseSensitive(page, "items");
	cJSON *item;

	if (!rv || !rv[0]) {
		snprintf(w->why, sizeof(w->why), "list %s: the response has no metadata.resourceVersion", w->resource);
		return -EINVAL;
	}
	if (page_items && !cJSON_IsArray(page_items) && !cJSON_IsNull(page_items)) {
		snprintf(w->why, sizeof(w->why), "list %s: the response's items is not an array", w->resource);
		return -EINVAL;
	}
	while (page_items && cJSON_IsArray(page_items) && (item = page_items->child)) {
		cJSON_AddItemToArray(items, cJSON_DetachItemViaPointer(page_items, item));
		/* list items come without them: the same object must look the same from a LIST and a watch */
		if (!cJSON_HasObjectItem(item, "kind"))
			cJSON_AddStringToObject(item, "kind", k8s_kind_name(w->kind));
		if (api_version && !cJSON_HasObjectItem(item, "apiVersion"))
			cJSON_AddStringToObject(item, "apiVersion", api_version);
	}
	free(*cont);
	*cont = next && next[0] ? strdup(next) : NULL;
	if (next && next[0] && !*cont)
		return -ENOMEM;
	return set_rv(w, rv);
}

/*
 * All pages of the collection, into store_replace(). A continue token that
 * expired (410) restarts the list from the first page: the pages must come
 * from one snapshot. Failures are described in w->why.
 */
static int list_all(struct kube_watcher *w)
{
	struct body body = { 0 };
	cJSON *items = cJSON_CreateArray();
	unsigned int pages = 0, restarts = 0;
	char *cont = NULL;
	cJSON *page;
	long status;
	char *url;
	int err;

	if (!items)
		return -ENOMEM;
	for (;;) {
		url = kube_list_url(w->env->conn->server, w->kind, &w->sel, KUBE_LIST_PAGE_SIZE, cont);
		if (!url) {
			err = -ENOMEM;
			break;
		}
		body.len = 0;
		err = kube_http_get(&w->http, url, w->reload_token, KUBE_LIST_IDLE_TIMEOUT_S, body_append, &body,
				    &status);
		free(url);
		if (err) {
			snprintf(w->why, sizeof(w->why), "list %s: %s", w->resource,
				 err == -ETIMEDOUT ? "the server stopped sending" : transfer_error(w, err));
			break;
		}
		if (status == 401 && !w->reload_token) {
			pr_warn("list %s: 401 Unauthorized (%s); re-reading the token and retrying", w->resource,
				w->http.message);
			w->reload_token = true;
			continue;
		}
		w->reload_token = status == 401;
		if (status == 410 && cont && restarts < LIST_RESTARTS_MAX) {
			restarts++;
			pr_info("list %s: continue token expired after %u pages (410 Gone); restarting the list",
				w->resource, pages);
			cJSON_Delete(items);
			items = cJSON_CreateArray();
			free(cont);
			cont = NULL;
			pages = 0;
			if (!items) {
				err = -ENOMEM;
				break;
			}
			continue;
		}
		if (status != 200) {
			snprintf(w->why, sizeof(w->why), "list %s: HTTP %ld: %s", w->resource, status, w->http.message);
			err = status == 401 || status == 403 ? -EACCES : -EIO;
			break;
		}
		page = cJSON_ParseWithLength(body.data, body.len);
		if (!page) {
			snprintf(w->why, sizeof(w->why), "list %s: the response (%zu bytes) is not JSON", w->resource,
				 body.len);
			err = -EINVAL;
			break;
		}
		err = take_page(w, page, items, &cont);
		cJSON_Delete(page);
		pages++;
		if (err || !cont)
			break;
	}
	free(body.data);
	free(cont);
	if (!err) {
		int n = cJSON_GetArraySize(items);

		err = store_replace(w->env->store, w->kind, items);
		if (err)
			pr_warn("list %s: some objects were refused by the store: %s", w->resource, strerror(-err));
		pr_info("list %s: %d objects in %u page%s at resourceVersion %s", w->resource, n, pages,
			pages == 1 ? "" : "s", w->rv);
		err = 0;
	} else if (err == -ENOMEM) {
		snprintf(w->why, sizeof(w->why), "list %s: out of memory", w->resource);
	}
	cJSON_Delete(items);
	return err;
}

/* WATCH ---------------------------------------------------------------------- */

static int on_event(const char *line, size_t len, void *ctx)
{
	struct kube_watcher *w = ctx;
	cJSON *event = cJSON_ParseWithLength(line, len);
	const char *type = k8s_string(event, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(event, "object");
	const char *rv = k8s_string(k8s_field(obj, "metadata"), "resourceVersion");
	int ret = 0;

	if (!type || !cJSON_IsObject(obj)) {
		snprintf(w->why, sizeof(w->why), "watch %s: a %zu-byte line is not a watch event", w->resource, len);
		cJSON_Delete(event);
		return STREAM_UNDECODABLE;
	}
	if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = k8s_field(obj, "code");
		const char *message = k8s_string(obj, "message");

		snprintf(w->why, sizeof(w->why), "watch %s: ERROR event %d: %s", w->resource,
			 cJSON_IsNumber(code) ? code->valueint : 0, message ? message : "(no message)");
		ret = cJSON_IsNumber(code) && code->valueint == 410 ? STREAM_GONE : STREAM_FAILED;
		goto out;
	}
	if (rv && rv[0]) {
		ret = set_rv(w, rv);
		if (ret)
			goto out;
	}
	w->events++;
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		pr_debug("watch %s: %s %s/%s", w->resource, type, k8s_namespace(obj), k8s_name(obj) ?: "");
		/* refusals (no name) are logged by the store; the watch goes on */
		store_upsert(w->env->store, w->kind, cJSON_DetachItemViaPointer(event, obj));
	} else if (strcmp(type, "DELETED") == 0) {
		pr_debug("watch %s: DELETED %s/%s", w->resource, k8s_namespace(obj), k8s_name(obj) ?: "");
		if (k8s_name(obj))
			store_delete(w->env->store, w->kind, k8s_namespace(obj), k8s_name(obj));
	} else if (strcmp(type, "BOOKMARK") != 0) {
		pr_warn("watch %s: ignoring an event of unknown type \"%s\"", w->resource, type);
	}
out:
	cJSON_Delete(event);
	return ret;
}

static int on_stream(const char *data, size_t len, void *ctx)
{
	struct kube_watcher *w = ctx;

	return kube_framer_feed(&w->framer, data, len, on_event, w);
}

static unsigned int watch_timeout(struct kube_watcher *w)
{
	if (w->env->watch_timeout_s)
		return w->env->watch_timeout_s;
	return KUBE_WATCH_TIMEOUT_MIN_S +
	       (unsigned int)rand_r(&w->seed) % (KUBE_WATCH_TIMEOUT_MAX_S - KUBE_WATCH_TIMEOUT_MIN_S + 1);
}

/* What to do after a watch that got a complete HTTP response. */
static enum watch_next after_response(struct kube_watcher *w, long status, unsigned int timeout)
{
	size_t pending = kube_framer_pending(&w->framer);

	if (status == 200 && pending) {
		snprintf(w->why, sizeof(w->why), "watch %s: the stream ended inside an event (%zu bytes dropped)",
			 w->resource, pending);
		return NEXT_BACKOFF;
	}
	if (status == 200) {
		pr_info("watch %s: ended by the server after %lu events (timeout %u s); re-watching from "
			"resourceVersion %s",
			w->resource, w->events, timeout, w->rv);
		w->failures = 0;
		return NEXT_WATCH;
	}
	if (status == 410) {
		pr_info("watch %s: resourceVersion %s is gone (HTTP 410: %s); relisting", w->resource, w->rv,
			w->http.message);
		return NEXT_RELIST;
	}
	snprintf(w->why, sizeof(w->why), "watch %s: HTTP %ld: %s", w->resource, status, w->http.message);
	if (status == 401 && !w->reload_token) {
		w->reload_token = true;
		pr_warn("%s; re-reading the token and re-watching", w->why);
		return NEXT_WATCH;
	}
	w->reload_token = status == 401;
	return NEXT_BACKOFF;
}

static enum watch_next watch_once(struct kube_watcher *w)
{
	unsigned int timeout = watch_timeout(w);
	unsigned int grace = w->env->dead_watch_grace_s ? w->env->dead_watch_grace_s : KUBE_DEAD_WATCH_GRACE_S;
	long status;
	char *url;
	int err;

	url = kube_watch_url(w->env->conn->server, w->kind, &w->sel, w->rv, timeout);
	if (!url) {
		snprintf(w->why, sizeof(w->why), "watch %s: out of memory", w->resource);
		return NEXT_BACKOFF;
	}
	if (w->watched)
		atomic_fetch_add(&w->env->restarts, 1);
	w->watched = true;
	w->events = 0;
	kube_framer_reset(&w->framer);
	pr_debug("watch %s: from resourceVersion %s, timeout %u s", w->resource, w->rv, timeout);
	err = kube_http_get(&w->http, url, w->reload_token, timeout + grace, on_stream, w, &status);
	free(url);
	/* a watch that delivered something was healthy: its failure starts a new backoff series */
	if (w->events)
		w->failures = 0;
	switch (err) {
	case 0:
		if (status != 401)
			w->reload_token = false;
		return after_response(w, status, timeout);
	case -ECANCELED:
		return NEXT_STOP;
	case STREAM_GONE:
		pr_info("%s; relisting", w->why);
		return NEXT_RELIST;
	case STREAM_FAILED:
	case STREAM_UNDECODABLE:
		return NEXT_BACKOFF;
	case -ETIMEDOUT:
		pr_warn("watch %s: nothing received for %u s, not even a bookmark; reconnecting from resourceVersion "
			"%s",
			w->resource, timeout + grace, w->rv);
		return NEXT_WATCH;
	case -E2BIG:
		snprintf(w->why, sizeof(w->why), "watch %s: an event is longer than %zu bytes", w->resource,
			 w->framer.max_line);
		return NEXT_BACKOFF;
	default:
		snprintf(w->why, sizeof(w->why), "watch %s: connection lost after %lu events%s: %s", w->resource,
			 w->events, kube_framer_pending(&w->framer) ? ", inside an event" : "", transfer_error(w, err));
		return NEXT_BACKOFF;
	}
}

static void *watcher_main(void *arg)
{
	struct kube_watcher *w = arg;
	unsigned int watches;
	enum watch_next next;
	int err;

	while (!stopping(w)) {
		err = list_all(w);
		if (err == -ECANCELED)
			break;
		if (err) {
			if (!backoff(w))
				break;
			continue;
		}
		watches = 0;
		next = NEXT_WATCH;
		while (next == NEXT_WATCH || next == NEXT_BACKOFF) {
			if (next == NEXT_BACKOFF && !backoff(w)) {
				next = NEXT_STOP;
				break;
			}
			next = watch_once(w);
			watches++;
		}
		if (next == NEXT_STOP)
			break;
		/* NEXT_RELIST: the store's replace computes the deletes we missed */
		if (watches == 1 && !w->events) {
			/* gone at once: relisting in a tight loop would only hammer the server */
			snprintf(w->why, sizeof(w->why), "watch %s: resourceVersion %s of the list was gone at once",
				 w->resource, w->rv);
			if (!backoff(w))
				break;
		}
	}
	return NULL;
}

int kube_watch_env_init(struct kube_watch_env *env)
{
	pthread_condattr_t attr;
	int err;

	atomic_init(&env->stop, false);
	atomic_init(&env->restarts, 0);
	err = pthread_mutex_init(&env->lock, NULL);
	if (err)
		return -err;
	err = pthread_condattr_init(&attr);
	if (!err) {
		err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&env->wake, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (err) {
		pthread_mutex_destroy(&env->lock);
		return -err;
	}
	return 0;
}

void kube_watch_env_stop(struct kube_watch_env *env)
{
	pthread_mutex_lock(&env->lock);
	atomic_store(&env->stop, true);
	pthread_cond_broadcast(&env->wake);
	pthread_mutex_unlock(&env->lock);
}

void kube_watch_env_destroy(struct kube_watch_env *env)
{
	pthread_cond_destroy(&env->wake);
	pthread_mutex_destroy(&env->lock);
}

static void watcher_free(struct kube_watcher *w)
{
	kube_http_free(&w->http);
	kube_framer_free(&w->framer);
	kube_selectors_free(&w->sel);
	free(w->rv);
	free(w);
}

static const char *resource_name(enum k8s_kind kind)
{
	const char *path = kube_resource_path(kind);

	return strrchr(path, '/') + 1;
}

int kube_watcher_start(struct kube_watch_env *env, enum k8s_kind kind, struct kube_selectors *sel,
		       struct kube_watcher **out, struct socklb_err *e)
{
	struct kube_watcher *w = calloc(1, sizeof(*w));
	int err;

	if (!w) {
		kube_selectors_free(sel);
		return socklb_fail(e, -ENOMEM, "out of memory starting the watch of %s", resource_name(kind));
	}
	w->env = env;
	w->kind = kind;
	w->resource = resource_name(kind);
	w->sel = *sel;
	memset(sel, 0, sizeof(*sel));
	kube_framer_init(&w->framer, 0);
	if (getrandom(&w->seed, sizeof(w->seed), 0) != sizeof(w->seed))
		w->seed = (unsigned int)time(NULL) ^ (unsigned int)kind;
	err = kube_http_init(&w->http, env->conn, env->token, &env->stop, e);
	if (err)
		goto err;
	pr_info("watch %s: starting (labelSelector %s, fieldSelector %s)", w->resource,
		w->sel.label ? w->sel.label : "none", w->sel.field ? w->sel.field : "none");
	err = -pthread_create(&w->thread, NULL, watcher_main, w);
	if (err) {
		socklb_fail(e, err, "watch %s: cannot start a thread: %s", w->resource, strerror(-err));
		goto err;
	}
	*out = w;
	return 0;
err:
	watcher_free(w);
	return err;
}

void kube_watcher_join(struct kube_watcher *w)
{
	if (!w)
		return;
	pthread_join(w->thread, NULL);
	watcher_free(w);
}
