/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI result in another spec version: ADD prints prevResult in the
 * configuration's cniVersion, which need not be the version the previous
 * plugin answered in. The formats, per spec version:
 *
 *   0.3.0, 0.3.1, 0.4.0  ips[].version ("4" or "6") is required
 *   1.0.0                ips[].version is gone (the address says it)
 *   1.1.0                adds interfaces[].mtu, socketPath, pciID and
 *                        routes[].mtu, advmss, priority, table, scope
 *
 * Everything else (interfaces, ips[].address/gateway/interface, routes[].dst/gw,
 * dns, and keys no spec version defines) is the same in all of them.
 *
 * A result in the target version is copied unchanged. Otherwise the copy
 * takes the target's shape, as libcni's converters (pkg/types/040, 100) do
 * in the main:
 *   - to 1.x: ips[].version is removed;
 *   - from 1.x to 0.x: ips[].version is set from each address's family,
 *     "4" for a dotted quad, "6" for an IPv6 address (an IPv4-mapped one too:
 *     it is configured as IPv6; libcni would say "4"); from 0.x to 0.x it is
 *     kept, and set only where it is missing;
 *   - to 1.0.0 or older: the 1.1.0 fields are removed and reported (the
 *     target version cannot express them; the network is set up anyway).
 * A result without cniVersion is in the configuration's version (libcni's
 * rule for pre-1.0 results that omitted it). Where libcni differs: its Go
 * types share routes between versions and interfaces between 1.0.0 and
 * 1.1.0, so it keeps some 1.1.0 fields in older results and drops others;
 * and it drops keys no spec version defines, which a chained plugin here
 * passes on.
 *
 * What cannot be converted is error 7 naming the field: a cniVersion other
 * than 0.3.0-1.1.0 (0.1.0/0.2.0 results have no place in a plugin chain, and
 * newer formats are unknown), interfaces/ips/routes that are not lists of
 * objects, and, going to 0.x, an ips[].address that is not an IP address in
 * CIDR notation (the version comes from it).
 */
#ifndef SOCKLB_PLUGIN_CNI_RESULT_H
#define SOCKLB_PLUGIN_CNI_RESULT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cni_error.h"

struct cni_result_conversion {
	const char *from; /* the result's version (points into the converted result's source) */
	size_t removed_count; /* fields the target version does not have */
	size_t removed_listed; /* how many of them fit in removed */
	char removed[256]; /* "interfaces[1].pciID, routes[0].mtu", the first ones */
};

/*
 * prev in version to: a new object (cniVersion first) to release with
 * cJSON_Delete(), and what the conversion removed in *conv. NULL after an
 * error: 7 when prev cannot be converted, 107 when out of memory.
 */
cJSON *cni_result_convert(const cJSON *prev, const char *to, struct cni_result_conversion *conv, struct cni_error *err);

#endif /* SOCKLB_PLUGIN_CNI_RESULT_H */
