/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `socklb-syncd dump`: every frontend in the pinned maps with its backends,
 * as a table or as JSON ({"services":[{"frontend":"10.96.0.10:53",
 * "protocol":"UDP","backends":[...],"affinityTimeoutSeconds":0},...]}).
 * Reads the maps directly: the daemon need not run.
 */
#ifndef SOCKLB_DUMP_H
#define SOCKLB_DUMP_H

#include <stdbool.h>
#include <stdio.h>

/* 0, or a negative errno (logged): -ENOENT when nothing is pinned under root. */
int dump_maps(const char *bpffs_root, bool json, FILE *out);

#endif /* SOCKLB_DUMP_H */
