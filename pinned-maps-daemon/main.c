// SPDX-License-Identifier: Apache-2.0
/*
 * socklb-syncd: the daemon that keeps the pinned maps in sync with the
 * cluster's Services, and the commands beside it (commands.h). main only
 * parses the command line and runs the command it names.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	struct syncd_options opts;
	struct socklb_err err;

	if (cli_parse(syncd_commands, syncd_commands_count, argc, argv, &cmd, &opts, &err)) {
		fprintf(stderr, "socklb-syncd%s%s: %s\n\n", cmd && cmd->name ? " " : "",
			cmd && cmd->name ? cmd->name : "", err.msg);
		if (cmd)
			cli_usage(syncd_commands, syncd_commands_count, cmd, stderr);
		return 2;
	}
	if (opts.help) {
		cli_usage(syncd_commands, syncd_commands_count, cmd, stdout);
		return 0;
	}
	return cmd->run(&opts);
}
