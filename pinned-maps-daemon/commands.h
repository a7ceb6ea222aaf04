/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socklb-syncd's commands: the daemon (no command word), dump, status, trace,
 * install-cni and uninstall-cni, one entry each (cli.h's struct cli_cmd),
 * which main.c parses with and dispatches to.
 */
#ifndef SOCKLB_COMMANDS_H
#define SOCKLB_COMMANDS_H

#include <stddef.h>

#include "cli.h"

extern const struct cli_cmd syncd_commands[];
extern const size_t syncd_commands_count;

#endif /* SOCKLB_COMMANDS_H */
