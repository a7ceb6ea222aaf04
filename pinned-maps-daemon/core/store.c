// SPDX-License-Identifier: Apache-2.0
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hashmap.h"
#include "k8s_object.h"
#include "log.h"

struct store_entry {
	cJSON *obj;
	unsigned long mark; /* store_replace pass that last saw it */
};

/* An object changed since the last store_take_changes(). */
struct store_change {
	enum k8s_kind kind;
	char *ns;
	char *name;
};

struct store {
	pthread_mutex_t lock;
	struct hashmap *objects[K8S_KIND_COUNT]; /* "namespace/name" → struct store_entry */
	struct hashmap *changes[K8S_KIND_COUNT]; /* "namespace/name" → struct store_change */
	bool changes_lost; /* out of memory recording one: the reader must start over */
	store_observer_cb observer;
	void *observer_ctx;
	unsigned long generation;
	unsigned long replace_pass;
	unsigned int listed; /* bit per kind */
	int event_fd;
};

static const char *const kind_names[K8S_KIND_COUNT] = {
	[K8S_SERVICE] = "Service",
	[K8S_ENDPOINTSLICE] = "EndpointSlice",
	[K8S_NAMESPACE] = "Namespace",
	[K8S_NODE] = "Node",
};

const char *k8s_kind_name(enum k8s_kind kind)
{
	return (unsigned int)kind < K8S_KIND_COUNT ? kind_names[kind] : "Unknown";
}

static void entry_free(void *value)
{
	struct store_entry *e = value;

	cJSON_Delete(e->obj);
	free(e);
}

static void change_free(void *value)
{
	struct store_change *c = value;

	free(c->ns);
	free(c->name);
	free(c);
}

struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->event_fd < 0) {
		pr_err("store: eventfd: %s", strerror(errno));
		goto err;
	}
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		s->objects[k] = hashmap_new();
		s->changes[k] = hashmap_new();
		if (!s->objects[k] || !s->changes[k])
			goto err;
	}
	return s;
err:
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		hashmap_free(s->objects[k], entry_free);
		hashmap_free(s->changes[k], change_free);
	}
	if (s->event_fd >= 0)
		close(s->event_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* "namespace/name": neither part may contain '/', so the key is unambiguous. */
static int make_key(char *buf, size_t len, const char *ns, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", ns ? ns : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

#define STORE_KEY_LEN 512

static void notify(struct store *s)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is readable then anyway. */
	if (write(s->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("store: eventfd write: %s", strerror(errno));
}

/*
 * Fields no reader of the store uses but that dominate real objects' size:
 * server-side apply bookkeeping, kubectl's copy of the whole object, owner
 * references, and per endpoint the Pod reference and deprecated topology.
 */
static void trim(enum k8s_kind kind, cJSON *obj)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *ep;

	cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "ownerReferences");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
						"kubectl.kubernetes.io/last-applied-configuration");
	if (kind != K8S_ENDPOINTSLICE)
		return;
	cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(obj, "endpoints")) {
		cJSON_DeleteItemFromObjectCaseSensitive(ep, "targetRef");
		cJSON_DeleteItemFromObjectCaseSensitive(ep, "deprecatedTopology");
	}
}

void store_set_observer(struct store *s, store_observer_cb cb, void *ctx)
{
	s->observer = cb;
	s->observer_ctx = ctx;
}

static void observe(struct store *s, enum k8s_kind kind, const cJSON *old, const cJSON *cur, bool changed)
{
	if (s->observer)
		s->observer(kind, old, cur, changed, s->observer_ctx);
}

/* Remember that key (kind, ns/name) changed, for store_take_changes(). */
static void record_change(struct store *s, enum k8s_kind kind, const char *key, size_t len, const char *ns,
			  const char *name)
{
	struct store_change *c;

	if (hashmap_get(s->changes[kind], key, len))
		return;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->kind = kind;
		c->ns = strdup(ns ? ns : "");
		c->name = strdup(name);
	}
	if (!c || !c->ns || !c->name || hashmap_put(s->changes[kind], key, len, c, NULL)) {
		if (c)
			change_free(c);
		s->changes_lost = true;
	}
}

/* Takes ownership of obj. Returns 1 when the store changed, 0 when not, -errno. */
static int upsert_locked(struct store *s, enum k8s_kind kind, cJSON *obj)
{
	const char *name = k8s_name(obj);
	struct store_entry *e, *old = NULL;
	char key[STORE_KEY_LEN];
	int len, err;

	if (!name || !*name) {
		pr_warn("store: ignoring %s without metadata.name", k8s_kind_name(kind));
		cJSON_Delete(obj);
		return -EINVAL;
	}
	len = make_key(key, sizeof(key), k8s_namespace(obj), name);
	if (len < 0) {
		pr_warn("store: ignoring %s %s/%s: name too long", k8s_kind_name(kind), k8s_namespace(obj), name);
		cJSON_Delete(obj);
		return len;
	}
	trim(kind, obj);
	e = hashmap_get(s->objects[kind], key, len);
	if (e) {
		e->mark = s->replace_pass;
		if (cJSON_Compare(e->obj, obj, true)) {
			observe(s, kind, e->obj, obj, false);
			cJSON_Delete(obj);
			return 0;
		}
		observe(s, kind, e->obj, obj, true);
		cJSON_Delete(e->obj);
		e->obj = obj;
		s->generation++;
		record_change(s, kind, key, len, k8s_namespace(obj), name);
		return 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		cJSON_Delete(obj);
		return -ENOMEM;
	}
	e->obj = obj;
	e->mark = s->replace_pass;
	err = hashmap_put(s->objects[kind], key, len, e, (void **)&old);
	if (err) {
		entry_free(e);
		return err;
	}
	observe(s, kind, NULL, obj, true);
	s->generation++;
	record_change(s, kind, key, len, k8s_namespace(obj), name);
	return 1;
}

int store_upsert(struct store *s, enum k8s_kind kind, cJSON *obj)
{
	int ret;

	if ((unsigned int)kind >= K8S_KIND_COUNT) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	ret = upsert_locked(s, kind, obj);
	pthread_mutex_unlock(&s->lock);
	if (ret > 0)
		notify(s);
	return ret < 0 ? ret : 0;
}

int store_delete(struct store *s, enum k8s_kind kind, const char *ns, const char *name)
{
	char key[STORE_KEY_LEN];
	struct store_entry *e;
	int len;

	if ((unsigned int)kind >= K8S_KIND_COUNT || !name)
		return -EINVAL;
	len = make_key(key, sizeof(key), ns, name);
	if (len < 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	e = hashmap_remove(s->objects[kind], key, len);
	if (e) {
		observe(s, kind, e->obj, NULL, true);
		s->generation++;
		record_change(s, kind, key, len, ns, name);
	}
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return 0;
	entry_free(e);
	notify(s);
	return 0;
}

struct sweep {
	struct store *s;
	enum k8s_kind kind;
};

/* store_replace: objects the new list did not have go, and count as changes. */
static bool not_marked(void *value, void *ctx)
{
	const struct store_entry *e = value;
	const struct sweep *sw = ctx;
	char key[STORE_KEY_LEN];
	int len;

	if (e->mark == sw->s->replace_pass)
		return false;
	observe(sw->s, sw->kind, e->obj, NULL, true);
	len = make_key(key, sizeof(key), k8s_namespace(e->obj), k8s_name(e->obj));
	if (len >= 0)
		record_change(sw->s, sw->kind, key, len, k8s_namespace(e->obj), k8s_name(e->obj));
	return true;
}

int store_replace(struct store *s, enum k8s_kind kind, cJSON *items)
{
	unsigned int bit = 1U << kind;
	struct sweep sw = { .s = s, .kind = kind };
	size_t before;
	bool changed;
	cJSON *item;
	int err = 0;

	if ((unsigned int)kind >= K8S_KIND_COUNT || (items && !cJSON_IsArray(items)))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->replace_pass++;
	changed = !(s->listed & bit);
	while (items && (item = items->child)) {
		int ret = upsert_locked(s, kind, cJSON_DetachItemViaPointer(items, item));

		if (ret > 0)
			changed = true;
		else if (ret < 0 && !err)
			err = ret;
	}
	before = hashmap_count(s->objects[kind]);
	hashmap_remove_if(s->objects[kind], not_marked, &sw, entry_free);
	if (hashmap_count(s->objects[kind]) != before) {
		s->generation++;
		changed = true;
	}
	__atomic_or_fetch(&s->listed, bit, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	if (changed)
		notify(s);
	return err;
}

bool store_complete(const struct store *s)
{
	return __atomic_load_n(&s->listed, __ATOMIC_ACQUIRE) == (1U << K8S_KIND_COUNT) - 1;
}

bool store_listed(const struct store *s, enum k8s_kind kind)
{
	return (__atomic_load_n(&s->listed, __ATOMIC_ACQUIRE) & (1U << kind)) != 0;
}

int store_event_fd(const struct store *s)
{
	return s->event_fd;
}

void store_drain_events(struct store *s)
{
	uint64_t n;

	while (read(s->event_fd, &n, sizeof(n)) == sizeof(n))
		;
}

unsigned long store_generation(const struct store *s)
{
	return __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE);
}

void store_lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
}

void store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

struct visit_ctx {
	store_visit_cb cb;
	void *ctx;
};

static int visit_entry(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct store_entry *e = value;
	const struct visit_ctx *v = ctx;

	(void)key;
	(void)key_len;
	return v->cb(e->obj, v->ctx);
}

int store_foreach(struct store *s, enum k8s_kind kind, store_visit_cb cb, void *ctx)
{
	struct visit_ctx v = { .cb = cb, .ctx = ctx };

	if ((unsigned int)kind >= K8S_KIND_COUNT)
		return -EINVAL;
	return hashmap_foreach(s->objects[kind], visit_entry, &v);
}

const cJSON *store_get(struct store *s, enum k8s_kind kind, const char *ns, const char *name)
{
	const struct store_entry *e = NULL;
	char key[STORE_KEY_LEN];
	int len;

	if ((unsigned int)kind < K8S_KIND_COUNT && name) {
		len = make_key(key, sizeof(key), ns, name);
		if (len >= 0)
			e = hashmap_get(s->objects[kind], key, len);
	}
	return e ? e->obj : NULL;
}

struct take_ctx {
	store_change_cb cb;
	void *ctx;
	int ret;
};

static int take_change(const void *key, size_t key_len, void *value, void *ctx)
{
	const struct store_change *c = value;
	struct take_ctx *t = ctx;
	int ret = t->cb(c->kind, c->ns, c->name, t->ctx);

	(void)key;
	(void)key_len;
	if (ret && !t->ret)
		t->ret = ret;
	return 0;
}

static bool every(void *value, void *ctx)
{
	(void)value;
	(void)ctx;
	return true;
}

int store_take_changes(struct store *s, store_change_cb cb, void *ctx)
{
	struct take_ctx t = { .cb = cb, .ctx = ctx };

	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		hashmap_foreach(s->changes[k], take_change, &t);
		hashmap_remove_if(s->changes[k], every, NULL, change_free);
	}
	if (s->changes_lost && !t.ret)
		t.ret = -ENOMEM;
	s->changes_lost = false;
	return t.ret;
}
