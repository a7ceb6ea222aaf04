// SPDX-License-Identifier: Apache-2.0
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "intern.h"
#include "log.h"
#include "name_table.h"

struct store {
	pthread_mutex_t lock;
	/* namespace/name → struct k8s_object (the entry's key is the object's); mark: the replace pass that saw it */
	struct name_table objects[K8S_KIND_COUNT];
	/* namespace/Service name → the first of its EndpointSlices, chained by obj.link */
	struct name_table service_slices;
	/*
	 * namespace/name changed since the last store_take_changes(); the entry
	 * holds references to its key and, for an EndpointSlice, to the Service
	 * it was labelled with before (value; NULL when none or new)
	 */
	struct name_table changes[K8S_KIND_COUNT];
	bool changes_lost; /* out of memory recording one: the reader must start over */
	store_observer_cb observer;
	void *observer_ctx;
	unsigned long generation;
	uint32_t replace_pass;
	unsigned int listed; /* bit per kind */
	int event_fd;
};

/* Names longer than the API allows (a namespace of 63, a name of 253) are refused, as they always were. */
#define STORE_KEY_LEN 512

struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->event_fd < 0) {
		pr_err("store: eventfd: %s", strerror(errno));
		store_free(s);
		return NULL;
	}
	return s;
}

static void changes_clear(struct name_table *t)
{
	for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e)) {
		intern_put(e->ns);
		intern_put(e->name);
		intern_put(e->value);
	}
	name_table_release(t);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		struct name_table *t = &s->objects[k];

		for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e))
			k8s_object_free(e->value);
		name_table_release(t);
		changes_clear(&s->changes[k]);
	}
	name_table_release(&s->service_slices);
	if (s->event_fd >= 0)
		close(s->event_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void notify(struct store *s)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is readable then anyway. */
	if (write(s->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("store: eventfd write: %s", strerror(errno));
}

/* Remember that (kind, ns/name) changed from before (NULL: it is new), for store_take_changes(). */
static void record_change(struct store *s, enum k8s_kind kind, const char *ns, const char *name,
			  const struct k8s_object *before)
{
	struct name_entry *e = name_table_insert(&s->changes[kind], ns, name);

	if (!e) {
		s->changes_lost = true;
		return;
	}
	if (e->mark)
		return;
	e->mark = 1;
	intern_ref(ns);
	intern_ref(name);
	if (kind == K8S_ENDPOINTSLICE && before)
		e->value = (void *)intern_ref(((const struct k8s_slice *)before)->service);
}

void store_set_observer(struct store *s, store_observer_cb cb, void *ctx)
{
	s->observer = cb;
	s->observer_ctx = ctx;
}

static void observe(struct store *s, enum k8s_kind kind, const struct k8s_object *old, const struct k8s_object *cur,
		    bool changed)
{
	if (s->observer)
		s->observer(kind, old, cur, changed, s->observer_ctx);
}

/* ---- the EndpointSlices of each Service ------------------------------------------- */

static void link_slice(struct store *s, struct k8s_object *obj)
{
	const struct k8s_slice *slice = (const struct k8s_slice *)obj;
	struct name_entry *e;

	if (!slice->service || !*slice->service)
		return;
	e = name_table_insert(&s->service_slices, obj->ns, slice->service);
	if (!e) {
		/* Translation would miss the slice: have the reader start over once memory allows. */
		s->changes_lost = true;
		return;
	}
	obj->link = e->value;
	e->value = obj;
}

static void unlink_slice(struct store *s, struct k8s_object *obj)
{
	const struct k8s_slice *slice = (const struct k8s_slice *)obj;
	struct name_entry *e;
	struct k8s_object **p;

	if (!slice->service || !(e = name_table_find(&s->service_slices, obj->ns, slice->service)))
		return;
	for (p = (struct k8s_object **)&e->value; *p && *p != obj; p = &(*p)->link)
		;
	if (*p)
		*p = obj->link;
	obj->link = NULL;
	if (!e->value)
		name_table_remove(&s->service_slices, e);
}

/* The object leaves the store's indexes and memory. */
static void drop(struct store *s, struct k8s_object *obj)
{
	if (obj->kind == K8S_ENDPOINTSLICE)
		unlink_slice(s, obj);
	k8s_object_free(obj);
}

/* ---- writes ---------------------------------------------------------------------- */

static bool acceptable(enum k8s_kind kind, const struct k8s_object *obj)
{
	if (!obj->name || !*obj->name) {
		pr_warn("store: ignoring %s without metadata.name", k8s_kind_name(kind));
		return false;
	}
	if (strlen(obj->ns) + 1 + strlen(obj->name) >= STORE_KEY_LEN) {
		pr_warn("store: ignoring %s %s/%s: name too long", k8s_kind_name(kind), obj->ns, obj->name);
		return false;
	}
	return true;
}

/* Takes ownership of obj. Returns 1 when the store changed, 0 when not, -errno. */
static int upsert_locked(struct store *s, struct k8s_object *obj)
{
	enum k8s_kind kind = (enum k8s_kind)obj->kind;
	struct name_entry *e;
	struct k8s_object *old;

	if (!acceptable(kind, obj)) {
		k8s_object_free(obj);
		return -EINVAL;
	}
	e = name_table_insert(&s->objects[kind], obj->ns, obj->name);
	if (!e) {
		k8s_object_free(obj);
		return -ENOMEM;
	}
	e->mark = s->replace_pass;
	old = e->value;
	if (old && k8s_object_equal(old, obj)) {
		observe(s, kind, old, obj, false);
		k8s_object_free(obj);
		return 0;
	}
	observe(s, kind, old, obj, true);
	/* The entry's key stays valid: the new object holds the same interned strings. */
	e->value = obj;
	if (old && kind == K8S_ENDPOINTSLICE)
		unlink_slice(s, old);
	if (kind == K8S_ENDPOINTSLICE)
		link_slice(s, obj);
	s->generation++;
	record_change(s, kind, obj->ns, obj->name, old);
	k8s_object_free(old);
	return 1;
}

int store_upsert(struct store *s, struct k8s_object *obj)
{
	int ret;

	if (!obj || obj->kind >= K8S_KIND_COUNT) {
		k8s_object_free(obj);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	ret = upsert_locked(s, obj);
	pthread_mutex_unlock(&s->lock);
	if (ret > 0)
		notify(s);
	return ret < 0 ? ret : 0;
}

int store_delete(struct store *s, enum k8s_kind kind, const char *ns, const char *name)
{
	struct k8s_object *obj = NULL;
	struct name_entry *e;

	if ((unsigned int)kind >= K8S_KIND_COUNT || !name)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	e = name_table_find_str(&s->objects[kind], ns ? ns : "", name);
	if (e) {
		obj = e->value;
		observe(s, kind, obj, NULL, true);
		name_table_remove(&s->objects[kind], e);
		s->generation++;
		record_change(s, kind, obj->ns, obj->name, obj);
		drop(s, obj);
	}
	pthread_mutex_unlock(&s->lock);
	if (obj)
		notify(s);
	return 0;
}

struct sweep {
	struct store *s;
	enum k8s_kind kind;
};

/* store_replace: objects the new list did not have go, and count as changes. */
static bool not_marked(struct name_entry *e, void *ctx)
{
	struct sweep *sw = ctx;

	if (e->mark == sw->s->replace_pass)
		return false;
	observe(sw->s, sw->kind, e->value, NULL, true);
	record_change(sw->s, sw->kind, e->ns, e->name, e->value);
	drop(sw->s, e->value);
	return true;
}

int store_replace(struct store *s, enum k8s_kind kind, struct k8s_object **objs, size_t n)
{
	unsigned int bit = 1U << kind;
	struct sweep sw = { .s = s, .kind = kind };
	size_t before;
	bool changed;
	int err = 0;

	if ((unsigned int)kind >= K8S_KIND_COUNT) {
		for (size_t i = 0; i < n; i++)
			k8s_object_free(objs[i]);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	s->replace_pass++;
	changed = !(s->listed & bit);
	/* A first list would otherwise grow the tables many times over (a relist is mostly the same objects). */
	name_table_reserve(&s->objects[kind], n);
	name_table_reserve(&s->changes[kind], s->changes[kind].count + n);
	if (kind == K8S_ENDPOINTSLICE)
		name_table_reserve(&s->service_slices, n);
	for (size_t i = 0; i < n; i++) {
		bool ours = objs[i]->kind == kind;
		int ret = ours ? upsert_locked(s, objs[i]) : -EINVAL;

		if (!ours)
			k8s_object_free(objs[i]);
		if (ret > 0)
			changed = true;
		else if (ret < 0 && !err)
			err = ret;
	}
	before = s->objects[kind].count;
	name_table_remove_if(&s->objects[kind], not_marked, &sw);
	if (s->objects[kind].count != before) {
		s->generation++;
		changed = true;
	}
	__atomic_or_fetch(&s->listed, bit, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	if (changed)
		notify(s);
	return err;
}

/* ---- reads ------------------------------------------------------------------------ */

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

int store_foreach(struct store *s, enum k8s_kind kind, store_visit_cb cb, void *ctx)
{
	struct name_table *t;

	if ((unsigned int)kind >= K8S_KIND_COUNT)
		return -EINVAL;
	t = &s->objects[kind];
	for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e)) {
		int ret = cb(e->value, ctx);

		if (ret)
			return ret;
	}
	return 0;
}

const struct k8s_object *store_get(struct store *s, enum k8s_kind kind, const char *ns, const char *name)
{
	const struct name_entry *e = NULL;

	if ((unsigned int)kind < K8S_KIND_COUNT && name)
		e = name_table_find_str(&s->objects[kind], ns ? ns : "", name);
	return e ? e->value : NULL;
}

const struct k8s_object *store_find(struct store *s, enum k8s_kind kind, const char *ns, const char *name)
{
	const struct name_entry *e = name_table_find(&s->objects[kind], ns, name);

	return e ? e->value : NULL;
}

const struct k8s_slice *store_service_slices(struct store *s, const char *ns, const char *name)
{
	const struct name_entry *e = name_table_find(&s->service_slices, ns, name);

	return e ? e->value : NULL;
}

const char *store_change_previous_service(struct store *s, const char *ns, const char *name)
{
	const struct name_entry *e = name_table_find(&s->changes[K8S_ENDPOINTSLICE], ns, name);

	return e ? e->value : NULL;
}

int store_take_changes(struct store *s, store_change_cb cb, void *ctx)
{
	int ret = 0;

	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		struct name_table *t = &s->changes[k];

		for (struct name_entry *e = name_table_first(t); e; e = name_table_next(t, e)) {
			int r = cb((enum k8s_kind)k, e->ns, e->name, ctx);

			if (r && !ret)
				ret = r;
		}
		changes_clear(t);
	}
	if (s->changes_lost && !ret)
		ret = -ENOMEM;
	s->changes_lost = false;
	return ret;
}
