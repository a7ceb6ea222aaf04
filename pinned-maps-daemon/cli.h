/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socklb-syncd's command line, parsed from one table of flags. Parsing never
 * prints nor exits: errors come back as a message for main to show with the
 * usage (exit status 2).
 */
#ifndef SOCKLB_CLI_H
#define SOCKLB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "terminate.h"
#include "trace_filter.h"

enum syncd_command {
	SYNCD_RUN,
	SYNCD_DUMP,
	SYNCD_STATUS,
	SYNCD_TRACE,
};

enum syncd_source {
	SOURCE_FILE,
	SOURCE_KUBERNETES,
};

struct syncd_options {
	enum syncd_command command;
	const char *source; /* as given: "kubernetes" or "file:PATH" */
	enum syncd_source source_kind;
	const char *file_path; /* for SOURCE_FILE */
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
	const char *cni_conf_dir; /* keep the socklb entry in this CNI conf dir; NULL: don't */
	const char *cni_config; /* extra keys of that entry (JSON object) */
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

/* "5s", "500ms", "2m", "0" → milliseconds (at most a day); -EINVAL otherwise. */
int cli_duration_parse(const char *s, unsigned int *ms);

/* 0, or -EINVAL with a message in err. Strings point into argv. */
int cli_parse(int argc, char **argv, struct syncd_options *opts, char *err, size_t err_len);
void cli_usage(FILE *out);

#endif /* SOCKLB_CLI_H */
