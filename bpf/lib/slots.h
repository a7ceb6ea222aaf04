/* SPDX-License-Identifier: Apache-2.0 */
/* Slot planning for socklb_service_upsert (pure functions, no maps). */
#ifndef SOCKLB_SLOTS_H
#define SOCKLB_SLOTS_H

#include <linux/types.h>
#include <stdbool.h>

#include "lbmap.h"

void socklb_backend_from_endpoint(const struct socklb_endpoint *ep, struct socklb_backend *be);
bool socklb_backend_eq(const struct socklb_backend *a, const struct socklb_backend *b);
/*
 * Lay the wanted backends (deduplicated) over the current slots cur[0..ncur):
 * a backend that stays keeps its slot when that slot still exists, the others
 * fill the free slots in order. scratch and plan hold nwant entries, flags
 * 2 * nwant. Returns the number of slots of the new layout, in plan.
 */
__u32 socklb_slots_plan(const struct socklb_backend *cur, __u32 ncur, const struct socklb_endpoint *want, __u32 nwant,
			struct socklb_backend *scratch, struct socklb_backend *plan, bool *flags);

#endif /* SOCKLB_SLOTS_H */
