// SPDX-License-Identifier: Apache-2.0
/*
 * Opt a namespace in or out in the pinned namespace map, as socklb-syncd does
 * for Namespaces annotated socklb.io/enabled: the plugin tests use it to
 * check the plugin's namespace-map opt-in without running the daemon.
 *
 *   slb-nsmap ROOT NAMESPACE on|off
 */
#include <stdio.h>
#include <string.h>

#include "lbmap.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct socklb_maps m;
	int err;

	socklb_log_init("slb-nsmap", SOCKLB_LOG_WARN, NULL, true);
	if (argc != 4 || (strcmp(argv[3], "on") != 0 && strcmp(argv[3], "off") != 0)) {
		fprintf(stderr, "usage: slb-nsmap ROOT NAMESPACE on|off\n");
		return 2;
	}
	err = socklb_maps_open(argv[1], NULL, &m);
	if (err) {
		fprintf(stderr, "slb-nsmap: opening the maps under %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	err = socklb_namespace_set(&m, argv[2], strcmp(argv[3], "on") == 0);
	socklb_maps_close(&m);
	if (err) {
		fprintf(stderr, "slb-nsmap: namespace %s: %s\n", argv[2], strerror(-err));
		return 1;
	}
	return 0;
}
