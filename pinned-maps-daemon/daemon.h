/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socklb-syncd itself: Services and EndpointSlices from the source into the
 * pinned maps, kept in sync until SIGTERM (or once, with --once), with the
 * metrics server, socket termination and the CNI config watch beside it.
 */
#ifndef SOCKLB_DAEMON_H
#define SOCKLB_DAEMON_H

#include "cli.h"

/* Run until stopped: 0, or a negative errno once what failed is logged. node_name NULL: the hostname. */
int daemon_main(struct syncd_options *o);

#endif /* SOCKLB_DAEMON_H */
