// SPDX-License-Identifier: Apache-2.0
/*
 * Create the pinned maps under a bpffs root with chosen sizes, before any
 * plugin or daemon does (they adopt maps that exist): the fault tests fill
 * small maps to see what a full map does.
 *
 *   slb-mkmaps ROOT MAX_SERVICES MAX_BACKENDS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbmap.h"

static int parse_size(const char *s, __u32 *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 1u << 24)
		return -1;
	*out = (__u32)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct socklb_map_sizes sizes = { .max_affinity = 1024 };
	struct socklb_maps m;
	struct socklb_err e;
	int err;

	if (argc != 4 || parse_size(argv[2], &sizes.max_services) || parse_size(argv[3], &sizes.max_backends)) {
		fprintf(stderr, "usage: slb-mkmaps ROOT MAX_SERVICES MAX_BACKENDS\n");
		return 2;
	}
	err = socklb_maps_open(argv[1], &sizes, &m, &e);
	if (err) {
		fprintf(stderr, "slb-mkmaps: %s\n", e.msg);
		return 1;
	}
	printf("services %u backends %u\n", m.max_services, m.max_backends);
	socklb_maps_close(&m);
	return 0;
}
