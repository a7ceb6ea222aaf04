/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The translation logic, independent of the hook that runs it: the
 * cgroup/sock_addr entry points in socklb.bpf.c and the XDP test harness in
 * test/ both call these functions, so what the tests run is what pods run.
 */
#ifndef SOCKLB_LB_BPF_H
#define SOCKLB_LB_BPF_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maps.bpf.h"

/* What lb_select did (socklb.h: SOCKLB_VERDICT_*, which trace events report). */
enum lb_verdict {
	LB_PASS = 0, /* not a service: leave the destination alone */
	LB_TRANSLATED = SOCKLB_VERDICT_TRANSLATED, /* destination rewritten to a backend chosen now */
	LB_REFUSE = SOCKLB_VERDICT_REFUSED, /* a service with no usable backend */
	LB_AFFINITY = SOCKLB_VERDICT_AFFINITY, /* rewritten to the client's affinity backend */
	LB_STICKY = SOCKLB_VERDICT_STICKY, /* rewritten to the backend this UDP socket already uses */
};

static __always_inline bool lb_translated(enum lb_verdict v)
{
	return v == LB_TRANSLATED || v == LB_AFFINITY || v == LB_STICKY;
}

#define NSEC_PER_SEC 1000000000ULL

static __always_inline bool addr_eq(const __be32 *a, const __be32 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

static __always_inline void addr_copy(__be32 *dst, const __be32 *src)
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

static __always_inline bool addr_is_v4mapped(const __be32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* The one lookup every connect/sendmsg pays; NULL for non-service destinations. */
static __always_inline struct socklb_svc *lb_service_lookup(const struct socklb_sockaddr *dst, __u8 proto)
{
	struct socklb_svc_key key = {};

	addr_copy(key.addr, dst->addr);
	key.port = dst->port;
	key.proto = proto;
	return bpf_map_lookup_elem(&socklb_svc_v1, &key);
}

static __always_inline struct socklb_backend *lb_backend_at(const struct socklb_svc *svc, __u32 slot)
{
	struct socklb_backend_key key = { .svc_id = svc->id, .slot = slot };

	if (slot >= svc->count)
		return NULL;
	return bpf_map_lookup_elem(&socklb_be_v1, &key);
}

/* A remembered choice is used only while that backend is still in the service: it, or NULL. */
static __always_inline struct socklb_backend *lb_backend_still_at(const struct socklb_svc *svc, __u32 slot,
								  const __be32 *addr, __be16 port)
{
	struct socklb_backend *be = lb_backend_at(svc, slot);

	return be && be->port == port && addr_eq(be->addr, addr) ? be : NULL;
}

/* The unconnected-UDP entry for this VIP, or the least recently used one to reuse. */
static __always_inline struct socklb_peer *lb_sock_peer(struct socklb_sock *st, const struct socklb_sockaddr *vip)
{
	struct socklb_peer *victim = &st->peers[0];
	int i;

#pragma unroll
	for (i = 0; i < SOCKLB_SOCK_PEERS; i++) {
		struct socklb_peer *p = &st->peers[i];

		if (p->seq && p->vip_port == vip->port && addr_eq(p->vip, vip->addr))
			return p;
		if (p->seq < victim->seq)
			victim = p;
	}
	return victim;
}

static __always_inline void lb_count(const struct socklb_svc *svc, bool translated)
{
	__u32 id = svc->id;
	struct socklb_stats *s = bpf_map_lookup_elem(&socklb_stat_v1, &id);

	if (!s)
		return;
	if (translated)
		s->translated++;
	else
		s->no_backend++;
}

/* A uniformly random slot in [0, count), without a division. */
static __always_inline struct socklb_backend *lb_pick(const struct socklb_svc *svc, __u32 *slot)
{
	*slot = (__u32)(((__u64)bpf_get_prandom_u32() * svc->count) >> 32);
	return lb_backend_at(svc, *slot);
}

/*
 * Choose the backend for one connect (connected = true) or one unconnected
 * datagram, and remember it in the socket's storage `st` (may be NULL). The
 * verdict says which of the choices below made it.
 * Order of preference: the backend this socket already uses for this VIP
 * (unconnected UDP keeps its backend, as kube-proxy's conntrack entry does),
 * the client pod's affinity entry, then uniform random.
 */
static __always_inline enum lb_verdict lb_select(const struct socklb_svc *svc, const struct socklb_sockaddr *vip,
						 __u8 proto, __u64 netns_cookie, struct socklb_sock *st, bool connected,
						 struct socklb_sockaddr *out)
{
	enum lb_verdict verdict = LB_STICKY;
	const struct socklb_svc *fresh;
	const __u32 flags = svc->flags;
	struct socklb_affinity_key akey = {};
	struct socklb_affinity *aff = NULL;
	struct socklb_peer *peer = NULL;
	struct socklb_backend *be = NULL;
	__u64 now = 0;
	__u32 slot = 0;

	if (svc->count == 0) {
		lb_count(svc, false);
		return LB_REFUSE;
	}

	if (st) {
		peer = connected ? &st->connected : lb_sock_peer(st, vip);
		if (!connected && peer->seq && peer->svc_id == svc->id && peer->vip_port == vip->port &&
		    addr_eq(peer->vip, vip->addr)) {
			slot = peer->slot;
			be = lb_backend_still_at(svc, slot, peer->backend, peer->backend_port);
		}
	}

	/*
	 * A datagram that keeps its socket's backend is one more packet of an
	 * existing flow: like a conntrack hit under kube-proxy, it neither
	 * consults nor refreshes the client's affinity.
	 */
	if (be)
		goto chosen;

	verdict = LB_AFFINITY;
	if (flags & SOCKLB_SVC_F_AFFINITY) {
		now = bpf_ktime_get_ns();
		akey.netns_cookie = netns_cookie;
		akey.svc_id = svc->id;
		aff = bpf_map_lookup_elem(&socklb_aff_v1, &akey);
		if (aff && now - aff->last_used_ns <= (__u64)svc->affinity_timeout * NSEC_PER_SEC) {
			slot = aff->slot;
			be = lb_backend_still_at(svc, slot, aff->backend.addr, aff->backend.port);
		}
	}

	if (!be) {
		verdict = LB_TRANSLATED;
		be = lb_pick(svc, &slot);
		/*
		 * The daemon shrinks a set by publishing the smaller count
		 * first and deleting the tail slots after, so a count read
		 * just before may name a slot that is already gone. The
		 * service's current value has a count that matches its slots:
		 * choose again from that (same service, same id).
		 */
		if (!be) {
			fresh = lb_service_lookup(vip, proto);
			if (fresh && fresh->id == svc->id && fresh->count) {
				svc = fresh;
				be = lb_pick(svc, &slot);
			}
		}
		if (!be) {
			lb_count(svc, false);
			return LB_REFUSE;
		}
	}

	if (flags & SOCKLB_SVC_F_AFFINITY) {
		if (aff && aff->slot == slot && aff->backend.port == be->port && addr_eq(aff->backend.addr, be->addr)) {
			aff->last_used_ns = now;
		} else {
			struct socklb_affinity nv = { .slot = slot, .last_used_ns = now };

			addr_copy(nv.backend.addr, be->addr);
			nv.backend.port = be->port;
			bpf_map_update_elem(&socklb_aff_v1, &akey, &nv, BPF_ANY);
		}
	}

chosen:
	addr_copy(out->addr, be->addr);
	out->port = be->port;

	if (peer) {
		addr_copy(peer->vip, vip->addr);
		peer->vip_port = vip->port;
		addr_copy(peer->backend, be->addr);
		peer->backend_port = be->port;
		peer->svc_id = svc->id;
		peer->slot = slot;
		peer->seq = ++st->seq;
	}

	lb_count(svc, true);
	return verdict;
}

static __always_inline bool lb_peer_has_backend(const struct socklb_peer *p, const struct socklb_sockaddr *addr)
{
	return p->seq && p->backend_port == addr->port && addr_eq(p->backend, addr->addr);
}

static __always_inline void lb_peer_vip(const struct socklb_peer *p, struct socklb_sockaddr *addr)
{
	addr_copy(addr->addr, p->vip);
	addr->port = p->vip_port;
}

/*
 * Map a backend address seen by the application (a reply's source, or the
 * socket's peer) back to the VIP it was reached through. Returns true and
 * rewrites *addr when this socket reached that backend through a VIP.
 *
 * The connected peer is copied where it matches, not through a pointer set
 * there and tested for NULL after: clang turns that test into a second test
 * of the match, and verifiers before 6.8 (Debian 12's 6.1) then follow a
 * path where the pointer is NULL and reject the program ("R0 invalid mem
 * access 'scalar'" in getpeername4).
 */
static __always_inline bool lb_reverse(const struct socklb_sock *st, struct socklb_sockaddr *addr, bool connected_only)
{
	const struct socklb_peer *best = NULL;
	int i;

	if (lb_peer_has_backend(&st->connected, addr)) {
		lb_peer_vip(&st->connected, addr);
		return true;
	}
	if (connected_only)
		return false;
#pragma unroll
	for (i = 0; i < SOCKLB_SOCK_PEERS; i++) {
		const struct socklb_peer *p = &st->peers[i];

		if (lb_peer_has_backend(p, addr) && (!best || p->seq > best->seq))
			best = p;
	}
	if (!best)
		return false;
	lb_peer_vip(best, addr);
	return true;
}

#endif /* SOCKLB_LB_BPF_H */
