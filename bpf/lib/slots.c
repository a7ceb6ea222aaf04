// SPDX-License-Identifier: Apache-2.0
/* Where each backend of a service goes in its slot table: pure logic, unit-tested. */
#include <arpa/inet.h>
#include <string.h>

#include "slots.h"

void socklb_backend_from_endpoint(const struct socklb_endpoint *ep, struct socklb_backend *be)
{
	memset(be, 0, sizeof(*be));
	memcpy(be->addr, ep->addr, sizeof(be->addr));
	be->port = htons(ep->port);
}

bool socklb_backend_eq(const struct socklb_backend *a, const struct socklb_backend *b)
{
	return a->port == b->port && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Convert and deduplicate the wanted backends; returns how many remain. */
static __u32 dedupe_backends(const struct socklb_endpoint *want, __u32 nwant, struct socklb_backend *out)
{
	__u32 i, j, n = 0;
	bool dup;

	for (i = 0; i < nwant; i++) {
		socklb_backend_from_endpoint(&want[i], &out[n]);
		dup = false;
		for (j = 0; j < n && !dup; j++)
			dup = socklb_backend_eq(&out[j], &out[n]);
		if (!dup)
			n++;
	}
	return n;
}

/*
 * New slot layout: a backend that stays keeps its slot when that slot still
 * exists (so affinity and per-socket choices stay valid); the others fill the
 * free slots in order.
 */
static void layout_slots(const struct socklb_backend *cur, __u32 ncur, const struct socklb_backend *wanted, __u32 n,
			 struct socklb_backend *plan, bool *placed, bool *filled)
{
	__u32 i, j, next = 0;

	for (i = 0; i < ncur && i < n; i++) {
		for (j = 0; j < n; j++) {
			if (!placed[j] && socklb_backend_eq(&cur[i], &wanted[j])) {
				plan[i] = wanted[j];
				placed[j] = filled[i] = true;
				break;
			}
		}
	}
	for (j = 0; j < n; j++) {
		if (placed[j])
			continue;
		while (filled[next])
			next++;
		plan[next] = wanted[j];
		filled[next] = true;
	}
}

__u32 socklb_slots_plan(const struct socklb_backend *cur, __u32 ncur, const struct socklb_endpoint *want, __u32 nwant,
			struct socklb_backend *scratch, struct socklb_backend *plan, bool *flags)
{
	__u32 n = dedupe_backends(want, nwant, scratch);

	memset(flags, 0, 2 * (size_t)(n ? n : 1) * sizeof(*flags));
	layout_slots(cur, ncur, scratch, n, plan, flags, flags + n);
	return n;
}
