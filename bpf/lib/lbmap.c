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
		if (strcmp(name, SOCKLB_MAP_SERVICES) == 0 || strcmp(name, SOCKLB_MAP_STATS) == 0)
			max = sizes->max_services;
		else if (strcmp(name, SOCKLB_MAP_BACKENDS) == 0)
			max = sizes->max_backends;
		else if (strcmp(name, SOCKLB_MAP_AFFINITY) == 0)
			max = sizes->max_affinity;
		else
			max = 0;
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

static int id_alloc(struct socklb_maps *m, __u32 *id)
{
	static const struct socklb_stats zero[1];
	struct socklb_stats *zeros;
	int ncpus = libbpf_num_possible_cpus();
	__u32 i;
	int err;

	for (i = m->id_hint; i < m->max_services; i++) {
		if (id_used(m, i))
			continue;
		/* A recycled id starts with fresh counters. */
		zeros = calloc(ncpus > 0 ? ncpus : 1, sizeof(zero));
		if (!zeros)
			return -ENOMEM;
		err = bpf_map_update_elem(m->stats, &i, zeros, BPF_ANY) ? -errno : 0;
		free(zeros);
		if (err)
			return err;
		id_mark(m, i, true);
		m->id_hint = i + 1;
		*id = i;
		return 0;
	}
	return -ENOSPC;
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

int socklb_service_upsert(struct socklb_maps *m, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
			  __u32 n, __u32 affinity_timeout)
{
	struct socklb_backend *cur = NULL, *plan = NULL, *wanted = NULL;
	struct socklb_svc_key key;
	struct socklb_svc old = {}, svc;
	struct socklb_backend_key bkey;
	bool exists, *flags = NULL;
	__u32 i, nplan, written = 0;
	int err;

	err = maps_account(m);
	if (err)
		return err;
	socklb_svc_key_build(fe, &key);
	exists = bpf_map_lookup_elem(m->services, &key, &old) == 0;
	if (exists) {
		err = read_backends(m, &old, &cur);
		if (err)
			return err;
	} else if (m->services_used >= m->max_services) {
		return -ENOSPC;
	}

	plan = calloc(n ? n : 1, sizeof(*plan));
	wanted = calloc(n ? n : 1, sizeof(*wanted));
	flags = calloc(2 * (size_t)(n ? n : 1), sizeof(*flags));
	if (!plan || !wanted || !flags) {
		err = -ENOMEM;
		goto out;
	}
	nplan = socklb_slots_plan(cur, old.count, be, n, wanted, plan, flags);
	if (nplan > old.count && m->backends_used + (nplan - old.count) > m->max_backends) {
		err = -ENOSPC;
		goto out;
	}

	svc = (struct socklb_svc){
		.id = old.id,
		.count = nplan,
		.affinity_timeout = affinity_timeout,
		.flags = affinity_timeout ? SOCKLB_SVC_F_AFFINITY : 0,
	};
	if (!exists) {
		err = id_alloc(m, &svc.id);
		if (err)
			goto out;
	}

	/* 1. New slots past the current count: invisible until the count grows. */
	bkey.svc_id = svc.id;
	for (i = old.count; i < nplan; i++) {
		bkey.slot = i;
		if (bpf_map_update_elem(m->backends, &bkey, &plan[i], BPF_ANY)) {
			err = -errno;
			goto undo_new_slots;
		}
		written = i + 1;
	}
	/* 2. Visible slots whose backend changes: each replace is atomic. */
	for (i = 0; i < old.count && i < nplan; i++) {
		if (socklb_backend_eq(&cur[i], &plan[i]))
			continue;
		bkey.slot = i;
		if (bpf_map_update_elem(m->backends, &bkey, &plan[i], BPF_EXIST)) {
			err = -errno;
			goto undo_new_slots;
		}
	}
	/* 3. Publish the count (and affinity settings). */
	if (bpf_map_update_elem(m->services, &key, &svc, BPF_ANY)) {
		err = -errno;
		goto undo_new_slots;
	}
	/* 4. Only now drop the tail that the count no longer exposes. */
	for (i = nplan; i < old.count; i++) {
		bkey.slot = i;
		bpf_map_delete_elem(m->backends, &bkey);
	}
	if (!exists)
		m->services_used++;
	m->backends_used = m->backends_used + nplan - old.count;
	err = 0;
	goto out;

undo_new_slots:
	for (i = old.count; i < written; i++) {
		bkey.slot = i;
		bpf_map_delete_elem(m->backends, &bkey);
	}
	if (!exists) {
		id_mark(m, svc.id, false);
		if (svc.id < m->id_hint)
			m->id_hint = svc.id;
	}
	if (err == -E2BIG)
		err = -ENOSPC;
out:
	free(cur);
	free(plan);
	free(wanted);
	free(flags);
	return err;
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
