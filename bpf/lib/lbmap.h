/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map library: open (or create) the pinned maps, write whole services
 * atomically as the datapath sees them, read them back. Linked by the plugin,
 * the daemon and the tests. Functions return 0 or a negative errno (and fill
 * the error context, err.h, where they take one).
 *
 * One writer at a time owns the services (the daemon); the id allocator lives
 * in struct socklb_maps and is built from the pinned state when it opens.
 */
#ifndef SOCKLB_LBMAP_H
#define SOCKLB_LBMAP_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "socklb.h"

#define SOCKLB_DEFAULT_BPFFS_ROOT "/sys/fs/bpf/socklb"

/* "1.2.3.4" or "fd00::1" → 16 bytes, IPv4 as ::ffff:1.2.3.4. -EINVAL if neither. */
int socklb_addr_parse(const char *s, __be32 addr[4]);
bool socklb_addr_is_v4(const __be32 addr[4]);
/* "1.2.3.4" or "fd00::1"; buf of at least SOCKLB_ADDR_STRLEN. */
#define SOCKLB_ADDR_STRLEN 48
void socklb_addr_format(const __be32 addr[4], char *buf, size_t len);
/* "1.2.3.4:80" or "[fd00::1]:80"; buf of at least SOCKLB_ENDPOINT_STRLEN. */
#define SOCKLB_ENDPOINT_STRLEN 56
void socklb_endpoint_format(const __be32 addr[4], __u16 port, char *buf, size_t len);
/* "TCP"/"UDP" (any case) → SOCKLB_PROTO_*; -EINVAL otherwise. */
int socklb_proto_parse(const char *s);
const char *socklb_proto_name(__u8 proto);

/* The services map key of a frontend (port to network order, padding zeroed). */
struct socklb_frontend;
void socklb_svc_key_build(const struct socklb_frontend *fe, struct socklb_svc_key *key);

struct socklb_map_sizes {
	__u32 max_services;
	__u32 max_backends;
	__u32 max_affinity;
};

struct socklb_maps {
	int services;
	int backends;
	int affinity;
	int stats;
	int sockets;
	int namespaces;
	__u32 max_services;
	__u32 max_backends;
	/* id allocator and occupancy, valid once built by the first write */
	unsigned char *id_used;
	__u32 id_hint; /* no free id below it */
	__u32 services_used;
	__u32 backends_used;
	bool accounted;
	bool batches_tried; /* a batch update was made: the kernel has them, or no_batch says it has not */
	bool no_batch;
};

struct socklb_frontend {
	__be32 addr[4];
	__u16 port; /* host byte order */
	__u8 proto; /* SOCKLB_PROTO_TCP or SOCKLB_PROTO_UDP */
};

struct socklb_endpoint {
	__be32 addr[4];
	__u16 port; /* host byte order */
};

/*
 * Open the pinned maps under root, creating the directory (mode 0700) and the
 * maps (with sizes, or the defaults when NULL) when they do not exist yet.
 * Serialised against other processes with the root lock: an flock on the
 * root directory (socklb_dir_lock()).
 */
int socklb_maps_open(const char *root, const struct socklb_map_sizes *sizes, struct socklb_maps *m,
		     struct socklb_err *err);
/*
 * Creating the maps costs most in the kernel's per-CPU allocations for the
 * statistics array (one per frontend): a loader may create them ahead,
 * unpinned, while it does other work (nothing appears under any root), then
 * open the root with them: they are pinned there when no map is pinned there
 * yet, else dropped. NULL ahead: socklb_maps_open.
 */
struct socklb_maps_ahead;
int socklb_maps_create_ahead(const struct socklb_map_sizes *sizes, struct socklb_maps_ahead **out);
int socklb_maps_open_ahead(const char *root, const struct socklb_map_sizes *sizes, struct socklb_maps_ahead *a,
			   struct socklb_maps *m, struct socklb_err *err);
void socklb_maps_ahead_free(struct socklb_maps_ahead *a);
/* Open existing pins only: -ENOENT when nothing was created under root. */
int socklb_maps_open_existing(const char *root, struct socklb_maps *m);
void socklb_maps_close(struct socklb_maps *m);

struct bpf_object;
/*
 * For loaders of the datapath object: reuse every map pinned under root and
 * create the missing ones (pinned there) with these sizes (NULL: defaults).
 */
int socklb_maps_prepare(struct bpf_object *obj, const char *root, const struct socklb_map_sizes *sizes,
			struct socklb_err *err);

/*
 * Make the frontend serve exactly these backends (n may be 0: connects are
 * refused). affinity_timeout in seconds, 0 = none. Existing backends keep
 * their slots; a connect running meanwhile never sees a half-written service.
 * -ENOSPC when a map is full; the previous state of the frontend stays intact.
 */
int socklb_service_upsert(struct socklb_maps *m, const struct socklb_frontend *fe, const struct socklb_endpoint *be,
			  __u32 n, __u32 affinity_timeout);
/* One frontend's write for socklb_services_upsert(). */
struct socklb_service_write {
	const struct socklb_frontend *fe;
	const struct socklb_endpoint *be;
	__u32 n;
	__u32 affinity_timeout;
	int err; /* out: what socklb_service_upsert() would have returned */
};

/*
 * socklb_service_upsert() for each of w[0, n) (distinct frontends), with their map writes batched
 * (a few bpf_map_update_batch calls instead of one call per entry): the new
 * counters and the new slots of all of them first, then the slots that
 * change, then their service entries, then the tails they drop. Each
 * frontend goes from its old state to its new one as with
 * socklb_service_upsert(), never half-written. A kernel without batch
 * updates, or a batch that fails (a full map), gets the writes one by one.
 * 0 when every write succeeded, else the first error; each in w[i].err.
 */
int socklb_services_upsert(struct socklb_maps *m, struct socklb_service_write *w, size_t n);
/* Remove the frontend; 0 when it did not exist. */
int socklb_service_delete(struct socklb_maps *m, const struct socklb_frontend *fe);

typedef int (*socklb_service_cb)(const struct socklb_frontend *fe, const struct socklb_svc *svc,
				 const struct socklb_endpoint *be, __u32 n, void *ctx);
/* Call cb for every frontend with its backends in slot order; stops at a non-zero return. */
int socklb_service_foreach(struct socklb_maps *m, socklb_service_cb cb, void *ctx);
typedef int (*socklb_frontend_cb)(const struct socklb_frontend *fe, const struct socklb_svc *svc, void *ctx);
/* Like socklb_service_foreach without reading the backends: one lookup per frontend. */
int socklb_frontend_foreach(struct socklb_maps *m, socklb_frontend_cb cb, void *ctx);
/* Read one frontend; -ENOENT if absent. *be is malloc'ed (free it), *n its length. */
int socklb_service_get(struct socklb_maps *m, const struct socklb_frontend *fe, struct socklb_svc *svc,
		       struct socklb_endpoint **be, __u32 *n);
/* Sum of the per-CPU counters of one service id. */
int socklb_service_stats(struct socklb_maps *m, __u32 svc_id, struct socklb_stats *sum);

/*
 * The namespace opt-in map the daemon publishes for the plugin: per annotated
 * namespace, SOCKLB_NS_OPTED_IN or SOCKLB_NS_OPTED_OUT.
 */
int socklb_namespace_set(struct socklb_maps *m, const char *name, __u32 value);
/* Remove the namespace's entry; 0 when there was none. */
int socklb_namespace_delete(struct socklb_maps *m, const char *name);
/* 1 with *value when the namespace has an entry, 0 when not, negative errno on error. */
int socklb_namespace_get(struct socklb_maps *m, const char *name, __u32 *value);
typedef int (*socklb_namespace_cb)(const char *name, __u32 value, void *ctx);
/* Call cb for every entry; stops at a non-zero return. */
int socklb_namespace_foreach(struct socklb_maps *m, socklb_namespace_cb cb, void *ctx);

#endif /* SOCKLB_LBMAP_H */
