// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "k8s_decode.h"
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
	struct k8s_decoder *decoder;
	struct json_reader reader;
	pthread_t thread;
};

struct body {
	char *data;
	size_t len;
	size_t cap;
};

/* A LIST's objects, page after page, for store_replace(). */
struct object_list {
	struct k8s_object **items;
	size_t n;
	size_t cap;
	size_t refused; /* items that are not objects: the store would refuse them */
};

static int object_list_add(struct object_list *l, struct k8s_object *obj)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 512;
		struct k8s_object **items = realloc(l->items, cap * sizeof(struct k8s_object *));

		if (!items) {
			k8s_object_free(obj);
			return -ENOMEM;
		}
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = obj;
	return 0;
}

/* Free the objects from from on (a page that failed), or all. */
static void object_list_truncate(struct object_list *l, size_t from)
{
	for (size_t i = from; i < l->n; i++)
		k8s_object_free(l->items[i]);
	l->n = from;
}

static void object_list_release(struct object_list *l)
{
	object_list_truncate(l, 0);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

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

/* A string member copied into *out (malloc'ed); anything else skipped, *out NULL. */
static int read_dup(struct json_reader *r, char **out)
{
	struct json_str s;

	free(*out);
	*out = NULL;
	if (json_peek(r) != JSON_STRING)
		return json_skip(r);
	if (json_read_string(r, &s))
		return r->err;
	*out = strndup(s.p, s.len);
	if (!*out)
		r->err = -ENOMEM;
	return r->err;
}

/* A page's metadata: its resourceVersion and continue token. */
static int read_page_metadata(struct json_reader *r, char **rv, char **cont)
{
	bool rv_seen = false, cont_seen = false;
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "resourceVersion") && !rv_seen) {
			rv_seen = true;
			ret = read_dup(r, rv);
		} else if (JSON_STR_IS(&name, "continue") && !cont_seen) {
			cont_seen = true;
			ret = read_dup(r, cont);
		} else {
			ret = json_skip(r);
		}
		if (ret)
			return r->err;
	}
	return ret;
}

/* A page's items, decoded into the list as they come. */
static int read_page_items(struct kube_watcher *w, struct json_reader *r, struct object_list *objs, bool *not_array)
{
	int ret;

	if (json_peek(r) == JSON_NULL)
		return json_skip(r);
	if (json_peek(r) != JSON_ARRAY) {
		*not_array = true;
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		struct k8s_object *obj;

		if (json_peek(r) != JSON_OBJECT) {
			objs->refused++;
			ret = json_skip(r);
		} else {
			ret = k8s_decode(w->decoder, r, w->kind, NULL, &obj);
			if (!ret)
				ret = object_list_add(objs, obj);
		}
		if (ret)
			return ret;
	}
	return ret;
}

/*
 * One page's items into objs, its continue token out, its resourceVersion
 * kept. Items are decoded as they are read; a page that fails leaves objs as
 * it was. Failures are described in w->why.
 */
static int take_page(struct kube_watcher *w, const char *data, size_t len, struct object_list *objs, char **cont)
{
	struct json_reader *r = &w->reader;
	bool meta_seen = false, items_seen = false, not_array = false;
	size_t before = objs->n, refused = objs->refused;
	char *rv = NULL;
	struct json_str name;
	int err;

	free(*cont);
	*cont = NULL;
	json_reader_init(r, data, 0, len);
	if (json_enter_object(r) == 0) {
		while (json_next_member(r, &name) == 1) {
			int ret;

			if (JSON_STR_IS(&name, "metadata") && !meta_seen) {
				meta_seen = true;
				ret = read_page_metadata(r, &rv, cont);
			} else if (JSON_STR_IS(&name, "items") && !items_seen) {
				items_seen = true;
				ret = read_page_items(w, r, objs, &not_array);
			} else {
				ret = json_skip(r);
			}
			if (ret)
				break;
		}
	}
	json_expect_end(r);
	if (r->err == -EINVAL)
		snprintf(w->why, sizeof(w->why), "list %s: the response (%zu bytes) is not JSON", w->resource, len);
	else if (r->err)
		snprintf(w->why, sizeof(w->why), "list %s: out of memory", w->resource);
	else if (!rv || !rv[0])
		snprintf(w->why, sizeof(w->why), "list %s: the response has no metadata.resourceVersion", w->resource);
	else if (not_array)
		snprintf(w->why, sizeof(w->why), "list %s: the response's items is not an array", w->resource);
	err = r->err ? r->err : (!rv || !rv[0] || not_array) ? -EINVAL : set_rv(w, rv);
	free(rv);
	if (err) {
		object_list_truncate(objs, before);
		objs->refused = refused;
		free(*cont);
		*cont = NULL;
	}
	return err;
}

/*
 * All pages of the collection, into store_replace(). A continue token that
 * expired (410) restarts the list from the first page: the pages must come
 * from one snapshot. Failures are described in w->why.
 */
static int list_all(struct kube_watcher *w)
{
	struct body body = { 0 };
	struct object_list objs = { 0 };
	unsigned int pages = 0, restarts = 0;
	char *cont = NULL;
	long status;
	char *url;
	int err;

	for (;;) {
		url = kube_list_url(w->http.server, w->kind, &w->sel, KUBE_LIST_PAGE_SIZE, cont);
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
			object_list_truncate(&objs, 0);
			objs.refused = 0;
			free(cont);
			cont = NULL;
			pages = 0;
			continue;
		}
		if (status != 200) {
			snprintf(w->why, sizeof(w->why), "list %s: HTTP %ld: %s", w->resource, status, w->http.message);
			err = status == 401 || status == 403 ? -EACCES : -EIO;
			break;
		}
		err = take_page(w, body.data, body.len, &objs, &cont);
		pages++;
		if (err || !cont)
			break;
	}
	free(body.data);
	free(cont);
	if (!err) {
		size_t n = objs.n + objs.refused;

		err = store_replace(w->env->store, w->kind, objs.items, objs.n);
		objs.n = 0;
		if (!err && objs.refused)
			err = -EINVAL;
		if (err)
			pr_warn("list %s: some objects were refused by the store: %s", w->resource, strerror(-err));
		pr_info("list %s: %zu objects in %u page%s at resourceVersion %s", w->resource, n, pages,
			pages == 1 ? "" : "s", w->rv);
		err = 0;
	} else if (err == -ENOMEM) {
		snprintf(w->why, sizeof(w->why), "list %s: out of memory", w->resource);
	}
	object_list_release(&objs);
	return err;
}

/* WATCH ---------------------------------------------------------------------- */

/* An ERROR event's Status: its code and message, into w->why. */
static int on_error_event(struct kube_watcher *w, struct json_reader *r)
{
	bool code_seen = false, message_seen = false, has_message = false;
	char message[512] = "";
	struct json_str name;
	double code = 0;
	int icode = 0, ret;

	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "code") && !code_seen) {
			code_seen = true;
			if (json_peek(r) == JSON_NUMBER) {
				ret = json_read_number(r, &code);
				/* As cJSON's valueint: saturated, truncated. */
				icode = code >= INT_MAX ? INT_MAX : code <= INT_MIN ? INT_MIN : (int)code;
			} else {
				ret = json_skip(r);
			}
		} else if (JSON_STR_IS(&name, "message") && !message_seen) {
			struct json_str m;

			message_seen = true;
			has_message = json_peek(r) == JSON_STRING;
			ret = has_message ? json_read_string(r, &m) : json_skip(r);
			if (!ret && has_message)
				snprintf(message, sizeof(message), "%.*s", (int)m.len, m.p);
		} else {
			ret = json_skip(r);
		}
		if (ret)
			return r->err;
	}
	if (ret)
		return ret;
	snprintf(w->why, sizeof(w->why), "watch %s: ERROR event %d: %s", w->resource, icode,
		 has_message ? message : "(no message)");
	return icode == 410 ? STREAM_GONE : STREAM_FAILED;
}

static int on_event(const char *line, size_t len, void *ctx)
{
	struct kube_watcher *w = ctx;
	struct json_reader *r = &w->reader;
	struct k8s_decode_info info = { .want_resource_version = true };
	struct json_mark object_at = { 0 }, end;
	bool type_member = false, type_seen = false, object_seen = false, object_ok = false;
	char type[32] = "";
	struct json_str name;
	struct k8s_object *obj = NULL;
	int ret = 0;

	/* The type decides how the object reads, and may come after it: find both first. */
	json_reader_init(r, line, 0, len);
	if (json_peek(r) == JSON_OBJECT && json_enter_object(r) == 0) {
		while (json_next_member(r, &name) == 1) {
			if (JSON_STR_IS(&name, "type") && !type_member) {
				type_member = true;
				type_seen = json_peek(r) == JSON_STRING;
				if (type_seen) {
					struct json_str t;

					if (json_read_string(r, &t))
						break;
					snprintf(type, sizeof(type), "%.*s",
						 (int)(t.len < sizeof(type) ? t.len : sizeof(type) - 1), t.p);
					continue;
				}
			} else if (JSON_STR_IS(&name, "object") && !object_seen) {
				object_seen = true;
				object_at = json_tell(r);
				object_ok = json_peek(r) == JSON_OBJECT;
			}
			if (json_skip(r))
				break;
		}
	}
	json_expect_end(r);
	if (r->err == -ENOMEM)
		return -ENOMEM;
	if (r->err || !type_seen || !object_ok) {
		snprintf(w->why, sizeof(w->why), "watch %s: a %zu-byte line is not a watch event", w->resource, len);
		return STREAM_UNDECODABLE;
	}
	end = json_tell(r);
	json_seek(r, object_at);
	if (strcmp(type, "ERROR") == 0)
		return on_error_event(w, r);
	ret = k8s_decode(w->decoder, r, w->kind, &info, &obj);
	json_seek(r, end);
	if (ret)
		return ret;
	if (info.resource_version && info.resource_version[0]) {
		ret = set_rv(w, info.resource_version);
		if (ret)
			goto out;
	}
	w->events++;
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		pr_debug("watch %s: %s %s/%s", w->resource, type, obj->ns, obj->name ?: "");
		/* refusals (no name) are logged by the store; the watch goes on */
		store_upsert(w->env->store, obj);
		obj = NULL;
	} else if (strcmp(type, "DELETED") == 0) {
		pr_debug("watch %s: DELETED %s/%s", w->resource, obj->ns, obj->name ?: "");
		if (obj->name)
			store_delete(w->env->store, w->kind, obj->ns, obj->name);
	} else if (strcmp(type, "BOOKMARK") != 0) {
		pr_warn("watch %s: ignoring an event of unknown type \"%s\"", w->resource, type);
	}
out:
	k8s_object_free(obj);
	free(info.resource_version);
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

	url = kube_watch_url(w->http.server, w->kind, &w->sel, w->rv, timeout);
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
	k8s_decoder_free(w->decoder);
	json_reader_release(&w->reader);
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
	w->decoder = k8s_decoder_new();
	if (!w->decoder) {
		err = socklb_fail(e, -ENOMEM, "out of memory starting the watch of %s", w->resource);
		goto err;
	}
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
