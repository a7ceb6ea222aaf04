/* SPDX-License-Identifier: Apache-2.0 */
/* `--source file:PATH` as a source (source.h): the glue between the interface and file_source.h. */
#ifndef SOCKLB_FILE_OPS_H
#define SOCKLB_FILE_OPS_H

#include "source.h"

/* The file source has no API server: --kubeconfig, --context and --api-server are refused. */
int file_source_check(const struct source_config *cfg, const char *path, struct socklb_err *e);
/*
 * Load path once, then (unless cfg->once) watch it. A first load that fails
 * is an error for --once, which has nothing to sync; the daemon waits for
 * the file to be fixed.
 */
int file_source_open(const struct source_config *cfg, const char *path, struct store *s, struct metrics *metrics,
		     struct source **out, struct socklb_err *e);

#endif /* SOCKLB_FILE_OPS_H */
