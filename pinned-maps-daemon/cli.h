/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socklb-syncd's command line: one table of commands (main.c: the daemon,
 * dump, status, trace, install-cni, uninstall-cni), one table of flags, each
 * flag defined once with its help line, and every command parsed by
 * getopt_long. Parsing never prints nor exits: an error comes back in the
 * error context for main to show with the command's usage (exit status 2).
 */
#ifndef SOCKLB_CLI_H
#define SOCKLB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "source.h"
#include "terminate.h"
#include "trace_filter.h"

/* Every flag of every command. */
enum cli_flag {
	FLAG_SOURCE,
	FLAG_KUBECONFIG,
	FLAG_CONTEXT,
	FLAG_API_SERVER,
	FLAG_NODE_NAME,
	FLAG_SERVICE_PROXY_NAME,
	FLAG_BPFFS_ROOT,
	FLAG_ONCE,
	FLAG_METRICS_ADDR,
	FLAG_ATTACH_FAILURES_FILE,
	FLAG_MAX_SERVICES,
	FLAG_MAX_BACKENDS,
	FLAG_CNI_BIN_DIR,
	FLAG_CNI_CONF_DIR,
	FLAG_CNI_CONFIG,
	FLAG_PLUGIN_BINARY,
	FLAG_INSTALL_CONFIG,
	FLAG_TERMINATE_TCP,
	FLAG_TERMINATE_GRACE,
	FLAG_TERMINATION_METHOD,
	FLAG_POD,
	FLAG_SERVICE,
	FLAG_VERDICT,
	FLAG_COUNT,
	FLAG_JSON,
	FLAG_VERBOSE,
	FLAG_HELP,
	FLAG_END, /* ends a command's list */
};

struct syncd_options {
	const char *source; /* as given: "kubernetes" or "file:PATH" */
	const char *kubeconfig;
	const char *context; /* the kubeconfig's context; NULL: its current-context */
	const char *api_server;
	const char *node_name; /* NULL: the hostname */
	const char *service_proxy_name;
	const char *bpffs_root;
	const char *metrics_addr; /* "" disables the server */
	const char *attach_failures_file; /* the CNI plugin's attach-failure record, for the metrics */
	const char *max_services_arg;
	const char *max_backends_arg;
	const char *cni_bin_dir; /* install-cni, uninstall-cni */
	const char *cni_conf_dir; /* the daemon keeps the socklb entry there (NULL: it does not) */
	const char *cni_entry_config; /* extra keys of that entry (JSON object); --cni-config, install-cni's --config */
	const char *plugin_binary; /* install-cni: NULL: socklb next to our executable */
	const char *terminate_grace_arg;
	const char *termination_method_arg; /* "auto" (also when absent), "off" or a method's name */
	unsigned int max_services; /* map sizes when the daemon creates the maps; 0: the defaults */
	unsigned int max_backends;
	unsigned int terminate_grace_ms; /* serving+terminating endpoints keep their sockets this long at most */
	const char *trace_pod; /* trace: --pod, --service, --verdict as given, parsed into trace_filter */
	const char *trace_service;
	const char *trace_verdict;
	const char *trace_count_arg;
	struct trace_filter trace_filter;
	unsigned int trace_count; /* trace: stop after this many events; 0: never */
	bool terminate_tcp; /* socket termination for TCP frontends too */
	bool termination_auto; /* probe and choose the method; else termination_method */
	enum socklb_term_method termination_method;
	bool once;
	bool json;
	bool verbose;
	bool help;
};

struct cli_cmd {
	const char *name; /* the word after socklb-syncd; NULL: the daemon itself, which has none */
	const enum cli_flag *flags; /* the flags it takes, ending with FLAG_END */
	const char *usage; /* its synopsis, after "socklb-syncd " */
	const char *summary; /* one line, in the daemon's list of commands */
	const char *about; /* what it does, for its --help */
	/* Check and convert the parsed values: 0, or -EINVAL with e naming the flag. */
	int (*check)(struct syncd_options *o, struct socklb_err *e);
	/* Run it: the process's exit status. */
	int (*run)(struct syncd_options *o);
};

/* "5s", "500ms", "2m", "0" → milliseconds (at most a day); -EINVAL otherwise. */
int cli_duration_parse(const char *s, unsigned int *ms);

/* The default of each value the commands share (bpffs root, metrics address, ...). */
void cli_defaults(struct syncd_options *o);
/* The source's settings among the daemon's options. */
void cli_source_config(const struct syncd_options *o, struct source_config *sc);

/*
 * Find the command (argv[1] when it names one, else the daemon, the entry
 * without a name) and parse its flags into o (strings point into argv). 0
 * with *cmd, or -EINVAL with e saying what is wrong; *cmd is then the
 * command whose usage to show.
 */
int cli_parse(const struct cli_cmd *cmds, size_t n, int argc, char **argv, const struct cli_cmd **cmd,
	      struct syncd_options *o, struct socklb_err *e);

/* The command's usage, what it does and its flags; for the daemon, the commands too. */
void cli_usage(const struct cli_cmd *cmds, size_t n, const struct cli_cmd *cmd, FILE *out);

#endif /* SOCKLB_CLI_H */
