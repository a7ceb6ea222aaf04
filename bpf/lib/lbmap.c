// SPDX-License-Identifier: Apache-2.0
/* The map library: see lbmap.h. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fsutil.h"
#include "lbmap.h"
#include "log.h"
#include "slots.h"
#include "socklb.skel.h"

/* ---- addresses ---------------------------------------------------------- */

int socklb_addr_parse(const char *s, __be32 addr[4])
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		addr[0] = 0;
		addr[1] = 0;
		addr[2] = htonl(0xffff);
		addr[3] = v4.s_addr;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6) == 1) {
		memcpy(addr, &v6, 16);
		return 0;
	}
	return -EINVAL;
}

bool socklb_addr_is_v4(const __be32 addr[4])
{
	return addr[0] == 0 && addr[1] == 0 && addr[2] == htonl(0xffff);
}

void socklb_addr_format(const __be32 addr[4], char *buf, size_t len)
{
	if (socklb_addr_is_v4(addr))
		inet_ntop(AF_INET, &addr[3], buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

void socklb_endpoint_format(const __be32 addr[4], __u16 port, char *buf, size_t len)
{
	char a[SOCKLB_ADDR_STRLEN];

	socklb_addr_format(addr, a, sizeof(a));
	if (socklb_addr_is_v4(addr))
		snprintf(buf, len, "%s:%u", a, port);
	else
		snprintf(buf, len, "[%s]:%u", a, port);
}

int socklb_proto_parse(const char *s)
{
	if (strcasecmp(s, "TCP") == 0)
		return SOCKLB_PROTO_TCP;
	if (strcasecmp(s, "UDP") == 0)
		return SOCKLB_PROTO_UDP;
	return -EINVAL;
}

const char *socklb_proto_name(__u8 proto)
{
	switch (proto) {
	case SOCKLB_PROTO_TCP:
		return "TCP";
	case SOCKLB_PROTO_UDP:
		return "UDP";
	default:
		return "?";
	}
}

/* ---- opening and creating ----------------------------------------------- */

struct map_fd_slot {
	const char *name;
	size_t offset;
};

#define MAP_SLOT(field, pin)                             \
	{                                                \
		pin, offsetof(struct socklb_maps, field) \
	}
static const struct map_fd_slot map_slots[] = {
	MAP_SLOT(services, SOCKLB_MAP_SERVICES), MAP_SLOT(backends, SOCKLB_MAP_BACKENDS),
	MAP_SLOT(affinity, SOCKLB_MAP_AFFINITY), MAP_SLOT(stats, SOCKLB_MAP_STATS),
	MAP_SLOT(sockets, SOCKLB_MAP_SOCKETS),	 MAP_SLOT(namespaces, SOCKLB_MAP_NAMESPACES),
};
#define N_MAPS (sizeof(map_slots) / sizeof(map_slots[0]))

static int *map_fd(struct socklb_maps *m, size_t i)
{
	return (int *)((char *)m + map_slots[i].offset);
}

static void maps_reset(struct socklb_maps *m)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < N_MAPS; i++)
		*map_fd(m, i) = -1;
}

static __u32 map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

static int maps_open_pins(const char *root, struct socklb_maps *m)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	for (i = 0; i < N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, map_slots[i].name);
		*map_fd(m, i) = bpf_obj_get(path);
		if (*map_fd(m, i) < 0) {
			err = -errno;
			socklb_maps_close(m);
			return err;
		}
	}
	m->max_services = map_max_entries(m->services);
	m->max_backends = map_max_entries(m->backends);
	return 0;
}

/* The size of a map this loader creates (0: the object's own). */
static __u32 map_max_for(const char *name, const struct socklb_map_sizes *sizes)
{
	if (strcmp(name, SOCKLB_MAP_SERVICES) == 0 || strcmp(name, SOCKLB_MAP_STATS) == 0)
		return sizes->max_services;
	if (strcmp(name, SOCKLB_MAP_BACKENDS) == 0)
		return sizes->max_backends;
	if (strcmp(name, SOCKLB_MAP_AFFINITY) == 0)
		return sizes->max_affinity;
	return 0;
}

/*
 * Tell libbpf to use every map already pinned under root as it is (whatever
 * size its creator chose) and to create the missing ones with our sizes.
 */
int socklb_maps_prepare(struct bpf_object *obj, const char *root, const struct socklb_map_sizes *sizes,
			struct socklb_err *err)
{
	struct socklb_map_sizes def = { SOCKLB_DEFAULT_MAX_SERVICES, SOCKLB_DEFAULT_MAX_BACKENDS,
					SOCKLB_DEFAULT_MAX_AFFINITY };
	char path[PATH_MAX];
	struct bpf_map *map;
	__u32 max;
	int fd, ret;

	if (!sizes)
		sizes = &def;
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (name[0] == '.' || bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			/* Adopt its real size; the pin path keeps libbpf from pinning it anywhere else. */
			ret = bpf_map__reuse_fd(map, fd);
			close(fd);
			if (!ret)
				ret = bpf_map__set_pin_path(map, path);
			if (ret)
				return socklb_fail(err, ret, "cannot reuse the pinned map %s: %s", path,
						   strerror(-ret));
			continue;
		}
		max = map_max_for(name, sizes);
		ret = bpf_map__set_pin_path(map, path);
		if (!ret && max)
			ret = bpf_map__set_max_entries(map, max);
		if (ret)
			return socklb_fail(err, ret, "cannot prepare the map %s: %s", path, strerror(-ret));
	}
	return 0;
}

int socklb_maps_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_maps *m,
		     struct socklb_err *err)
{
	struct bpf_program *prog;
	struct socklb *skel = NULL;
	int lock, ret = 0;

	maps_reset(m);
	lock = socklb_dir_lock(root, true, false, err);
	if (lock < 0)
		return lock;
	if (maps_open_pins(root, m) == 0)
		goto out;

	skel = socklb__open();
	if (!skel) {
		ret = socklb_fail(err, socklb_errno(), "cannot open the datapath object: %s", strerror(errno));
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	ret = socklb_maps_prepare(skel->obj, root, sizes, err);
	if (ret)
		goto out;
	ret = socklb__load(skel);
	if (ret) {
		socklb_fail(err, ret, "cannot create the maps under %s: %s", root, strerror(-ret));
		goto out;
	}
	ret = maps_open_pins(root, m);
	if (ret)
		socklb_fail(err, ret, "cannot open the maps pinned under %s: %s", root, strerror(-ret));
out:
	socklb__destroy(skel);
	socklb_dir_unlock(lock);
	return ret;
}

struct socklb_maps_ahead {
	struct socklb *skel;
};

int socklb_maps_create_ahead(const struct socklb_map_sizes *sizes, struct socklb_maps_ahead **out)
{
	struct socklb_map_sizes def = { SOCKLB_DEFAULT_MAX_SERVICES, SOCKLB_DEFAULT_MAX_BACKENDS,
					SOCKLB_DEFAULT_MAX_AFFINITY };
	struct socklb_maps_ahead *a = calloc(1, sizeof(*a));
	struct bpf_program *prog;
	struct bpf_map *map;
	int err = 0;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	if (!sizes)
		sizes = &def;
	a->skel = socklb__open();
	if (!a->skel) {
		err = -errno;
		goto fail;
	}
	bpf_object__for_each_program(prog, a->skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_object__for_each_map(map, a->skel->obj) {
		const char *name = bpf_map__name(map);
		__u32 max;

		if (name[0] == '.' || bpf_map__is_internal(map))
			continue;
		/* Unpinned: it is pinned, under the root's lock, only if nobody pinned one first. */
		max = map_max_for(name, sizes);
		err = bpf_map__set_pin_path(map, NULL);
		if (!err && max)
			err = bpf_map__set_max_entries(map, max);
		if (err)
			goto fail;
	}
	err = socklb__load(a->skel);
	if (err)
		goto fail;
	*out = a;
	return 0;
fail:
	socklb_maps_ahead_free(a);
	return err;
}

void socklb_maps_ahead_free(struct socklb_maps_ahead *a)
{
	if (!a)
		return;
	socklb__destroy(a->skel);
	free(a);
}

/* Pin every map made ahead under root, when none of them is pinned there yet. */
static int maps_pin_ahead(const char *root, struct socklb_maps_ahead *a)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, a->skel->obj) {
		if (bpf_map__name(map)[0] == '.' || bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, bpf_map__name(map));
		if (access(path, F_OK) == 0)
			return -EEXIST;
	}
	bpf_object__for_each_map(map, a->skel->obj) {
		if (bpf_map__name(map)[0] == '.' || bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, bpf_map__name(map));
		err = bpf_map__pin(map, path);
		if (err)
			return err;
	}
	return 0;
}

int socklb_maps_open_ahead(const char *root, const struct socklb_map_sizes *sizes, struct socklb_maps_ahead *a,
			   struct socklb_maps *m, struct socklb_err *err)
{
	int lock, ret;

	if (!a)
		return socklb_maps_open(root, sizes, m, err);
	maps_reset(m);
	lock = socklb_dir_lock(root, true, false, err);
	if (lock < 0)
		return lock;
	ret = maps_open_pins(root, m);
	if (ret && maps_pin_ahead(root, a) == 0)
		ret = maps_open_pins(root, m);
	socklb_dir_unlock(lock);
	/* Some pinned already (another build's set, a creator that stopped half-way): the usual way. */
	return ret ? socklb_maps_open(root, sizes, m, err) : 0;
}

int socklb_maps_open_existing(const char *root, struct socklb_maps *m)
{
	maps_reset(m);
	return maps_open_pins(root, m);
}

void socklb_maps_close(struct socklb_maps *m)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++)
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
	free(m->id_used);
	maps_reset(m);
}

/* ---- services ------------------------------------------------------------ */

void socklb_svc_key_build(const struct socklb_frontend *fe, struct socklb_svc_key *key)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->addr, fe->addr, sizeof(key->addr));
	key->port = htons(fe->port);
	key->proto = fe->proto;
}

static bool id_used(const struct socklb_maps *m, __u32 id)
{
	return m->id_used[id / 8] & (1u << (id % 8));
}

static void id_mark(struct socklb_maps *m, __u32 id, bool used)
{
	if (used)
		m->id_used[id / 8] |= (unsigned char)(1u << (id % 8));
	else
		m->id_used[id / 8] &= (unsigned char)~(1u << (id % 8));
}

/* Build the id allocator and the occupancy counts from what is pinned. */
static int maps_account(struct socklb_maps *m)
{
	struct socklb_svc_key key, next;
	struct socklb_svc svc;
	void *prev = NULL;

	if (m->accounted)
		return 0;
	m->id_used = calloc(m->max_services / 8 + 1, 1);
	if (!m->id_used)
		return -ENOMEM;
	while (bpf_map_get_next_key(m->services, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->services, &key, &svc))
			continue;
		if (svc.id < m->max_services)
			id_mark(m, svc.id, true);
		m->services_used++;
		m->backends_used += svc.count;
	}
	m->accounted = true;
	return 0;
}

/* Reserve the first free id; its counters are zeroed by the caller before the id is published. */
static int id_reserve(struct socklb_maps *m, __u32 *id)
{
	for (__u32 i = m->id_hint; i < m->max_services; i++) {
		if (id_used(m, i))
			continue;
		id_mark(m, i, true);
		m->id_hint = i + 1;
		*id = i;
		return 0;
	}
	return -ENOSPC;
}

static void id_release(struct socklb_maps *m, __u32 id)
{
	id_mark(m, id, false);
	if (id < m->id_hint)
		m->id_hint = id;
}

/* The stats map's value: one struct socklb_stats per possible CPU (its size is a multiple of 8, as the kernel copies). */
static size_t stats_value_size(void)
{
	int ncpus = libbpf_num_possible_cpus();

	return (size_t)(ncpus > 0 ? ncpus : 1) * sizeof(struct socklb_stats);
}

static int read_backends(struct socklb_maps *m, const struct socklb_svc *svc, struct socklb_backend **out)
{
	struct socklb_backend_key key = { .svc_id = svc->id };
	struct socklb_backend *be;

	*out = NULL;
	if (!svc->count)
		return 0;
	be = calloc(svc->count, sizeof(*be));
	if (!be)
		return -ENOMEM;
	for (key.slot = 0; key.slot < svc->count; key.slot++) {
		if (bpf_map_lookup_elem(m->backends, &key, &be[key.slot])) {
			int err = -errno;

			free(be);
			return err;
		}
	}
	*out = be;
	return 0;
}

/* One frontend's write, planned against the maps as they are. */
struct svc_write {
	struct socklb_svc_key key;
	struct socklb_svc old;
	struct socklb_svc svc; /* what the service entry becomes */
	bool exists;
	struct socklb_backend *cur; /* old.count slots, as pinned */
	struct socklb_backend *plan; /* svc.count slots */
};

static void svc_write_release(struct svc_write *w)
{
	free(w->cur);
	free(w->plan);
	w->cur = w->plan = NULL;
}

/*
 * Read the frontend's current state, lay its new backends over its slots and
 * reserve what it needs: an id when new, room in the maps (beyond what the
 * writes planned before it, *more_services and *more_backends, reserve).
 */
static int svc_write_plan(struct socklb_maps *m, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
			  __u32 n, __u32 affinity_timeout, struct svc_write *w, __u32 *more_services,
			  __u32 *more_backends)
{
	struct socklb_backend *wanted = NULL;
	bool *flags = NULL;
	__u32 added;
	int err;

	memset(w, 0, sizeof(*w));
	socklb_svc_key_build(fe, &w->key);
	/* No frontend is pinned (one writer: this process counts them): nothing to look up. */
	w->exists = m->services_used && bpf_map_lookup_elem(m->services, &w->key, &w->old) == 0;
	if (w->exists) {
		err = read_backends(m, &w->old, &w->cur);
		if (err)
			return err;
	} else if (m->services_used + *more_services >= m->max_services) {
		return -ENOSPC;
	}
	w->plan = calloc(n ? n : 1, sizeof(*w->plan));
	wanted = calloc(n ? n : 1, sizeof(*wanted));
	flags = calloc(2 * (size_t)(n ? n : 1), sizeof(*flags));
	err = !w->plan || !wanted || !flags ? -ENOMEM : 0;
	if (!err) {
		__u32 nplan = socklb_slots_plan(w->cur, w->old.count, be, n, wanted, w->plan, flags);

		w->svc = (struct socklb_svc){
			.id = w->old.id,
			.count = nplan,
			.affinity_timeout = affinity_timeout,
			.flags = affinity_timeout ? SOCKLB_SVC_F_AFFINITY : 0,
		};
		added = nplan > w->old.count ? nplan - w->old.count : 0;
		if (added && m->backends_used + *more_backends + added > m->max_backends)
			err = -ENOSPC;
	}
	if (!err && !w->exists)
		err = id_reserve(m, &w->svc.id);
	free(wanted);
	free(flags);
	if (err) {
		svc_write_release(w);
		return err;
	}
	*more_services += !w->exists;
	*more_backends += added;
	return 0;
}

/* The write did not happen: its new slots (written or not) go, and its id when it was reserved for it. */
static void svc_write_undo(struct socklb_maps *m, struct svc_write *w)
{
	struct socklb_backend_key bkey = { .svc_id = w->svc.id };

	for (bkey.slot = w->old.count; bkey.slot < w->svc.count; bkey.slot++)
		bpf_map_delete_elem(m->backends, &bkey);
	if (!w->exists)
		id_release(m, w->svc.id);
	svc_write_release(w);
}

/* The service entry is written: the tail the count no longer exposes goes, and the maps' occupancy follows. */
static void svc_write_done(struct socklb_maps *m, struct svc_write *w)
{
	struct socklb_backend_key bkey = { .svc_id = w->svc.id };

	for (bkey.slot = w->svc.count; bkey.slot < w->old.count; bkey.slot++)
		bpf_map_delete_elem(m->backends, &bkey);
	if (!w->exists)
		m->services_used++;
	m->backends_used = m->backends_used + w->svc.count - w->old.count;
	svc_write_release(w);
}

/* The writes of one service, one map update each, in the order invariant 1 needs. */
static int svc_write_apply(struct socklb_maps *m, struct svc_write *w)
{
	struct socklb_backend_key bkey = { .svc_id = w->svc.id };
	void *zeros;
	int err = 0;

	/* A recycled id starts with fresh counters. */
	if (!w->exists) {
		zeros = calloc(1, stats_value_size());
		if (!zeros)
			return -ENOMEM;
		err = bpf_map_update_elem(m->stats, &w->svc.id, zeros, BPF_ANY) ? -errno : 0;
		free(zeros);
		if (err)
			return err;
	}
	/* 1. New slots past the current count: invisible until the count grows. */
	for (bkey.slot = w->old.count; bkey.slot < w->svc.count; bkey.slot++) {
		if (bpf_map_update_elem(m->backends, &bkey, &w->plan[bkey.slot], BPF_ANY))
			return -errno;
	}
	/* 2. Visible slots whose backend changes: each replace is atomic. */
	for (bkey.slot = 0; bkey.slot < w->old.count && bkey.slot < w->svc.count; bkey.slot++) {
		if (socklb_backend_eq(&w->cur[bkey.slot], &w->plan[bkey.slot]))
			continue;
		if (bpf_map_update_elem(m->backends, &bkey, &w->plan[bkey.slot], BPF_EXIST))
			return -errno;
	}
	/* 3. Publish the count (and affinity settings). 4. (svc_write_done) Only now drop the tail. */
	if (bpf_map_update_elem(m->services, &w->key, &w->svc, BPF_ANY))
		return -errno;
	return 0;
}

int socklb_service_upsert(struct socklb_maps *m, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
			  __u32 n, __u32 affinity_timeout)
{
	__u32 more_services = 0, more_backends = 0;
	struct svc_write w;
	int err;

	err = maps_account(m);
	if (!err)
		err = svc_write_plan(m, fe, be, n, affinity_timeout, &w, &more_services, &more_backends);
	if (err)
		return err;
	err = svc_write_apply(m, &w);
	if (err) {
		svc_write_undo(m, &w);
		return err == -E2BIG ? -ENOSPC : err;
	}
	svc_write_done(m, &w);
	return 0;
}

/* ---- batched writes --------------------------------------------------------- */

/* One map's updates of a batch: keys and values side by side. */
struct batch_buf {
	void *keys;
	void *values;
	size_t key_size;
	size_t value_size;
	__u32 n;
	__u32 cap;
};

static int batch_buf_init(struct batch_buf *b, size_t key_size, size_t value_size, size_t cap)
{
	b->key_size = key_size;
	b->value_size = value_size;
	b->n = 0;
	b->cap = (__u32)(cap ? cap : 1);
	b->keys = calloc(b->cap, key_size);
	b->values = calloc(b->cap, value_size);
	return b->keys && b->values ? 0 : -ENOMEM;
}

static void batch_buf_release(struct batch_buf *b)
{
	free(b->keys);
	free(b->values);
	b->keys = b->values = NULL;
}

static void batch_buf_add(struct batch_buf *b, const void *key, const void *value)
{
	memcpy((char *)b->keys + (size_t)b->n * b->key_size, key, b->key_size);
	if (value)
		memcpy((char *)b->values + (size_t)b->n * b->value_size, value, b->value_size);
	b->n++;
}

/* The kernel's own "not supported" (ENOTSUPP, not in userspace headers): what a map without batches answers. */
#define KERNEL_ENOTSUPP 524

/*
 * One batch update: 0 when all went in, else the error with *done the
 * entries that did. The first batch a kernel refuses outright (no batch
 * operations on these maps) turns batching off for good, and says so once.
 */
static int batch_update(struct socklb_maps *m, int fd, struct batch_buf *b, __u64 elem_flags, __u32 *done)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = elem_flags);
	__u32 count = b->n;
	int err;

	*done = 0;
	if (!b->n)
		return 0;
	err = bpf_map_update_batch(fd, b->keys, b->values, &count, &opts) ? -errno : 0;
	*done = err ? count : b->n;
	if (err && !*done && !m->batches_tried && (err == -EINVAL || err == -EOPNOTSUPP || err == -KERNEL_ENOTSUPP)) {
		m->no_batch = true;
		pr_info("map writes: one system call per entry (batch updates refused: %s)", strerror(-err));
	}
	m->batches_tried = true;
	return err;
}

/* Write w[i] one by one, as socklb_service_upsert would have. */
static int upsert_each(struct socklb_maps *m, struct socklb_service_write *w, const bool *pending, size_t n)
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		if (!pending[i])
			continue;
		w[i].err = socklb_service_upsert(m, w[i].fe, w[i].be, w[i].n, w[i].affinity_timeout);
		if (w[i].err && !first)
			first = w[i].err;
	}
	return first;
}

int socklb_services_upsert(struct socklb_maps *m, struct socklb_service_write *w, size_t n)
{
	__u32 more_services = 0, more_backends = 0, done;
	struct batch_buf stats = { 0 }, slots = { 0 }, changed = { 0 }, entries = { 0 };
	struct svc_write *plans = NULL;
	bool *pending = NULL, *planned;
	size_t n_slots = 0, n_new = 0;
	int first = 0, err;

	err = maps_account(m);
	if (err || m->no_batch || n <= 1) {
		pending = calloc(n ? n : 1, sizeof(*pending));
		if (!pending)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			pending[i] = true;
		first = err ? err : upsert_each(m, w, pending, n);
		for (size_t i = 0; err && i < n; i++)
			w[i].err = err;
		free(pending);
		return first;
	}
	plans = calloc(n, sizeof(*plans));
	pending = calloc(2 * n, sizeof(*pending));
	if (!plans || !pending) {
		free(plans);
		free(pending);
		return -ENOMEM;
	}
	planned = pending + n;
	for (size_t i = 0; i < n; i++) {
		w[i].err = svc_write_plan(m, w[i].fe, w[i].be, w[i].n, w[i].affinity_timeout, &plans[i], &more_services,
					  &more_backends);
		if (w[i].err == -E2BIG)
			w[i].err = -ENOSPC;
		if (w[i].err && !first)
			first = w[i].err;
		planned[i] = pending[i] = !w[i].err;
		if (!planned[i])
			continue;
		n_new += !plans[i].exists;
		n_slots += plans[i].svc.count;
	}
	/* New ids' counters are zeroed: the values stay as calloc made them. */
	err = batch_buf_init(&stats, sizeof(__u32), stats_value_size(), n_new);
	if (!err)
		err = batch_buf_init(&slots, sizeof(struct socklb_backend_key), sizeof(struct socklb_backend), n_slots);
	if (!err)
		err = batch_buf_init(&changed, sizeof(struct socklb_backend_key), sizeof(struct socklb_backend),
				     n_slots);
	if (!err)
		err = batch_buf_init(&entries, sizeof(struct socklb_svc_key), sizeof(struct socklb_svc), n);
	for (size_t i = 0; !err && i < n; i++) {
		struct svc_write *p = &plans[i];
		struct socklb_backend_key bkey = { .svc_id = p->svc.id };

		if (!planned[i])
			continue;
		if (!p->exists)
			batch_buf_add(&stats, &p->svc.id, NULL);
		for (bkey.slot = p->old.count; bkey.slot < p->svc.count; bkey.slot++)
			batch_buf_add(&slots, &bkey, &p->plan[bkey.slot]);
		for (bkey.slot = 0; bkey.slot < p->old.count && bkey.slot < p->svc.count; bkey.slot++) {
			if (!socklb_backend_eq(&p->cur[bkey.slot], &p->plan[bkey.slot]))
				batch_buf_add(&changed, &bkey, &p->plan[bkey.slot]);
		}
		batch_buf_add(&entries, &p->key, &p->svc);
	}
	/*
	 * Invariant 1 across the batch: every new slot (invisible past its
	 * service's count) and every replaced slot before any service entry that
	 * counts them; the tails go after.
	 */
	if (!err)
		err = batch_update(m, m->stats, &stats, BPF_ANY, &done);
	if (!err)
		err = batch_update(m, m->backends, &slots, BPF_ANY, &done);
	if (!err)
		err = batch_update(m, m->backends, &changed, BPF_EXIST, &done);
	if (!err) {
		err = batch_update(m, m->services, &entries, BPF_ANY, &done);
		/* The entries that went in are written; the others fall back below. */
		for (size_t i = 0, k = 0; i < n; i++) {
			if (!planned[i])
				continue;
			if (k++ < done) {
				svc_write_done(m, &plans[i]);
				pending[i] = false;
			}
		}
	}
	/* A batch that failed (a full map, a kernel without batches): undo what is not published, write one by one. */
	for (size_t i = 0; i < n; i++) {
		if (pending[i])
			svc_write_undo(m, &plans[i]);
	}
	if (err)
		first = upsert_each(m, w, pending, n);
	batch_buf_release(&stats);
	batch_buf_release(&slots);
	batch_buf_release(&changed);
	batch_buf_release(&entries);
	free(plans);
	free(pending);
	for (size_t i = 0; !first && i < n; i++)
		first = w[i].err;
	return first;
}

int socklb_service_delete(struct socklb_maps *m, const struct socklb_frontend *fe)
{
	struct socklb_backend_key bkey;
	struct socklb_svc_key key;
	struct socklb_svc svc;
	int err;

	err = maps_account(m);
	if (err)
		return err;
	socklb_svc_key_build(fe, &key);
	if (bpf_map_lookup_elem(m->services, &key, &svc))
		return errno == ENOENT ? 0 : -errno;
	/* The service goes first: no connect can reach its slots afterwards. */
	if (bpf_map_delete_elem(m->services, &key))
		return errno == ENOENT ? 0 : -errno;
	bkey.svc_id = svc.id;
	for (bkey.slot = 0; bkey.slot < svc.count; bkey.slot++)
		bpf_map_delete_elem(m->backends, &bkey);
	if (svc.id < m->max_services) {
		id_mark(m, svc.id, false);
		if (svc.id < m->id_hint)
			m->id_hint = svc.id;
	}
	m->services_used--;
	m->backends_used -= svc.count;
	return 0;
}

static void to_frontend(const struct socklb_svc_key *key, struct socklb_frontend *fe)
{
	memset(fe, 0, sizeof(*fe));
	memcpy(fe->addr, key->addr, sizeof(fe->addr));
	fe->port = ntohs(key->port);
	fe->proto = key->proto;
}

static int to_endpoints(const struct socklb_backend *be, __u32 n, struct socklb_endpoint **out)
{
	struct socklb_endpoint *ep = calloc(n ? n : 1, sizeof(*ep));
	__u32 i;

	if (!ep)
		return -ENOMEM;
	for (i = 0; be && i < n; i++) {
		memcpy(ep[i].addr, be[i].addr, sizeof(ep[i].addr));
		ep[i].port = ntohs(be[i].port);
	}
	*out = ep;
	return 0;
}

int socklb_service_get(struct socklb_maps *m, const struct socklb_frontend *fe, struct socklb_svc *svc,
		       struct socklb_endpoint **ep, __u32 *n)
{
	struct socklb_backend *be;
	struct socklb_svc_key key;
	int err;

	socklb_svc_key_build(fe, &key);
	if (bpf_map_lookup_elem(m->services, &key, svc))
		return -errno;
	err = read_backends(m, svc, &be);
	if (err)
		return err;
	err = to_endpoints(be, svc->count, ep);
	free(be);
	if (!err)
		*n = svc->count;
	return err;
}

int socklb_frontend_foreach(struct socklb_maps *m, socklb_frontend_cb cb, void *ctx)
{
	struct socklb_svc_key key, next;
	struct socklb_frontend fe;
	struct socklb_svc svc;
	void *prev = NULL;
	int err;

	while (bpf_map_get_next_key(m->services, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->services, &key, &svc))
			continue; /* deleted meanwhile */
		to_frontend(&key, &fe);
		err = cb(&fe, &svc, ctx);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

struct with_backends {
	struct socklb_maps *m;
	socklb_service_cb cb;
	void *ctx;
};

static int call_with_backends(const struct socklb_frontend *fe, const struct socklb_svc *svc, void *ctx)
{
	struct with_backends *w = ctx;
	struct socklb_endpoint *ep;
	struct socklb_backend *be;
	int err;

	err = read_backends(w->m, svc, &be);
	if (err == -ENOENT)
		return 0; /* changed meanwhile */
	if (err)
		return err;
	err = to_endpoints(be, svc->count, &ep);
	free(be);
	if (err)
		return err;
	err = w->cb(fe, svc, ep, svc->count, w->ctx);
	free(ep);
	return err;
}

int socklb_service_foreach(struct socklb_maps *m, socklb_service_cb cb, void *ctx)
{
	struct with_backends w = { m, cb, ctx };

	return socklb_frontend_foreach(m, call_with_backends, &w);
}

int socklb_service_stats(struct socklb_maps *m, __u32 svc_id, struct socklb_stats *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	struct socklb_stats *per;
	int i, err = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	per = calloc(ncpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->stats, &svc_id, per)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ncpus; i++) {
		sum->translated += per[i].translated;
		sum->no_backend += per[i].no_backend;
	}
out:
	free(per);
	return err;
}

/* ---- namespaces ---------------------------------------------------------- */

static int ns_key(const char *name, struct socklb_ns_key *key)
{
	size_t len = strlen(name);

	if (len == 0 || len >= sizeof(key->name))
		return -ENAMETOOLONG;
	memset(key, 0, sizeof(*key));
	memcpy(key->name, name, len);
	return 0;
}

int socklb_namespace_set(struct socklb_maps *m, const char *name, __u32 value)
{
	struct socklb_ns_key key;
	int err = ns_key(name, &key);

	if (err)
		return err;
	return bpf_map_update_elem(m->namespaces, &key, &value, BPF_ANY) ? -errno : 0;
}

int socklb_namespace_delete(struct socklb_maps *m, const char *name)
{
	struct socklb_ns_key key;
	int err = ns_key(name, &key);

	if (err)
		return err;
	if (bpf_map_delete_elem(m->namespaces, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

int socklb_namespace_get(struct socklb_maps *m, const char *name, __u32 *value)
{
	struct socklb_ns_key key;
	int err = ns_key(name, &key);

	if (err)
		return err;
	if (bpf_map_lookup_elem(m->namespaces, &key, value))
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

int socklb_namespace_foreach(struct socklb_maps *m, socklb_namespace_cb cb, void *ctx)
{
	struct socklb_ns_key key, next;
	void *prev = NULL;
	__u32 value;
	int err;

	while (bpf_map_get_next_key(m->namespaces, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->namespaces, &key, &value)) {
			/* Deleted between the two calls: the walk goes on from it. */
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		key.name[sizeof(key.name) - 1] = '\0';
		err = cb(key.name, value, ctx);
		if (err)
			return err;
	}
	return 0;
}
