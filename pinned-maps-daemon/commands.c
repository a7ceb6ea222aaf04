// SPDX-License-Identifier: Apache-2.0
/*
 * socklb-syncd's commands, one table (commands.h): each with its flags, the
 * checks of their values, and the function that runs it.
 */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_install.h"
#include "daemon.h"
#include "dump.h"
#include "kube_url.h"
#include "log.h"
#include "metrics_server.h"
#include "source.h"
#include "status.h"
#include "trace_cmd.h"

/* ---- checks ------------------------------------------------------------------- */

static int check_bpffs_root(const struct syncd_options *o, struct socklb_err *e)
{
	if (!*o->bpffs_root)
		return socklb_fail(e, -EINVAL, "--bpffs-root must not be empty");
	if (o->bpffs_root[0] != '/')
		return socklb_fail(e, -EINVAL,
				   "--bpffs-root \"%s\": must be an absolute path (a directory on a bpffs mount)",
				   o->bpffs_root);
	return 0;
}

/* A count such as a map size: from 1 to what the kernel accepts for max_entries. */
static int parse_count(const char *flag, const char *arg, unsigned int *out, struct socklb_err *e)
{
	unsigned long v;
	char *end;

	if (!arg)
		return 0;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v == 0 || v > (1UL << 30) || arg[0] == '-')
		return socklb_fail(e, -EINVAL, "%s \"%s\": expected a count from 1 to %lu", flag, arg, 1UL << 30);
	*out = (unsigned int)v;
	return 0;
}

static int check_names(const struct syncd_options *o, struct socklb_err *e)
{
	if (o->node_name && !*o->node_name)
		return socklb_fail(e, -EINVAL, "--node-name must not be empty");
	/* The file source matches these names as the API would: refuse what the API would refuse. */
	if (o->node_name && !kube_node_name_valid(o->node_name))
		return socklb_fail(e, -EINVAL,
				   "--node-name \"%s\": not a valid Node name (lowercase RFC 1123 subdomain: a-z, 0-9, "
				   "'-' and '.', at most 253)",
				   o->node_name);
	if (!kube_label_value_valid(o->service_proxy_name))
		return socklb_fail(
			e, -EINVAL,
			"--service-proxy-name \"%s\": not a valid label value (at most 63 of A-Z a-z 0-9 - _ "
			"., alphanumeric at both ends)",
			o->service_proxy_name);
	return 0;
}

/* --termination-method: auto, off or a method's name. */
static int check_termination_method(struct syncd_options *o, struct socklb_err *e)
{
	char names[SOCKLB_TERM_WHY_LEN] = "";
	size_t off = 0;

	o->termination_auto = true;
	o->termination_method = SOCKLB_TERM_OFF;
	if (!o->termination_method_arg || strcmp(o->termination_method_arg, "auto") == 0)
		return 0;
	o->termination_auto = false;
	if (socklb_term_method_parse(o->termination_method_arg, &o->termination_method) == 0)
		return 0;
	for (int m = SOCKLB_TERM_OFF + 1; m < SOCKLB_TERM_METHODS && off < sizeof(names); m++)
		off += (size_t)snprintf(names + off, sizeof(names) - off, ", %s",
					socklb_term_method_name((enum socklb_term_method)m));
	return socklb_fail(e, -EINVAL, "--termination-method \"%s\": expected auto, off%s", o->termination_method_arg,
			   names);
}

static int check_termination(struct syncd_options *o, struct socklb_err *e)
{
	int err;

	if (o->terminate_grace_arg && cli_duration_parse(o->terminate_grace_arg, &o->terminate_grace_ms))
		return socklb_fail(e, -EINVAL,
				   "--terminate-grace \"%s\": expected a duration such as 5s, 500ms or 0 (at most 24h)",
				   o->terminate_grace_arg);
	err = check_termination_method(o, e);
	if (err)
		return err;
	/* Sockets are terminated by the running daemon: a one-shot sync leaves them alone. */
	if (o->once && (o->terminate_tcp || o->terminate_grace_arg || o->termination_method_arg))
		return socklb_fail(e, -EINVAL,
				   "%s applies to the running daemon, not to --once (which terminates no socket)",
				   o->terminate_tcp	    ? "--terminate-tcp"
				   : o->terminate_grace_arg ? "--terminate-grace"
							    : "--termination-method");
	return 0;
}

static int check_daemon(struct syncd_options *o, struct socklb_err *e)
{
	struct source_config sc;
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	cli_source_config(o, &sc);
	err = check_bpffs_root(o, e);
	if (!err)
		err = source_check(&sc, e);
	if (!err)
		err = check_names(o, e);
	if (!err)
		err = parse_count("--max-services", o->max_services_arg, &o->max_services, e);
	if (!err)
		err = parse_count("--max-backends", o->max_backends_arg, &o->max_backends, e);
	if (!err)
		err = check_termination(o, e);
	if (err)
		return err;
	if (o->attach_failures_file[0] != '/')
		return socklb_fail(e, -EINVAL, "--attach-failures-file \"%s\": must be an absolute path",
				   o->attach_failures_file);
	if (*o->metrics_addr && metrics_addr_parse(o->metrics_addr, &ss, &len))
		return socklb_fail(e, -EINVAL,
				   "--metrics-addr \"%s\": expected HOST:PORT (e.g. 127.0.0.1:9466, [::1]:9466)",
				   o->metrics_addr);
	return 0;
}

static int check_inspect(struct syncd_options *o, struct socklb_err *e)
{
	return check_bpffs_root(o, e);
}

static int check_trace(struct syncd_options *o, struct socklb_err *e)
{
	int err = check_bpffs_root(o, e);

	if (!err)
		err = parse_count("--count", o->trace_count_arg, &o->trace_count, e);
	if (!err)
		err = trace_filter_parse(&o->trace_filter, o->trace_pod, o->trace_service, o->trace_verdict, e);
	return err;
}

static int check_cni(struct syncd_options *o, struct socklb_err *e)
{
	if (!o->cni_bin_dir)
		o->cni_bin_dir = CNI_DEFAULT_BIN_DIR;
	if (!o->cni_conf_dir)
		o->cni_conf_dir = CNI_DEFAULT_CONF_DIR;
	if (!*o->cni_bin_dir || !*o->cni_conf_dir)
		return socklb_fail(e, -EINVAL, "--cni-bin-dir and --cni-conf-dir must not be empty");
	return 0;
}

/* ---- the commands ----------------------------------------------------------------- */

static void log_init(const struct syncd_options *o)
{
	socklb_log_init("socklb-syncd", o->verbose ? SOCKLB_LOG_DEBUG : SOCKLB_LOG_INFO, NULL, true);
}

static int run_daemon(struct syncd_options *o)
{
	log_init(o);
	return daemon_main(o) ? 1 : 0;
}

static int run_dump(struct syncd_options *o)
{
	log_init(o);
	return dump_maps(o->bpffs_root, o->json, stdout) ? 1 : 0;
}

static int run_status(struct syncd_options *o)
{
	/* Its -v is the probes' own words; a failed probe's libbpf chatter would only repeat them. */
	socklb_log_init("socklb-syncd", SOCKLB_LOG_WARN, NULL, true);
	return status_main(o->bpffs_root, o->json, o->verbose, stdout);
}

static int run_trace(struct syncd_options *o)
{
	struct trace_config tc = {
		.bpffs_root = o->bpffs_root, .filter = o->trace_filter, .json = o->json, .count = o->trace_count
	};

	log_init(o);
	return trace_run(&tc, stdout) ? 1 : 0;
}

static void cni_opts(const struct syncd_options *o, struct cni_install_opts *co)
{
	cni_install_opts_init(co);
	co->bin_dir = o->cni_bin_dir;
	co->conf_dir = o->cni_conf_dir;
	co->plugin_binary = o->plugin_binary;
	co->entry_config = o->cni_entry_config;
}

static int run_install_cni(struct syncd_options *o)
{
	struct cni_install_opts co;

	log_init(o);
	cni_opts(o, &co);
	return cni_install_main(&co) ? 1 : 0;
}

static int run_uninstall_cni(struct syncd_options *o)
{
	struct cni_install_opts co;

	log_init(o);
	cni_opts(o, &co);
	return cni_uninstall_main(&co) ? 1 : 0;
}

static const enum cli_flag daemon_flags[] = {
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
	FLAG_CNI_CONF_DIR,
	FLAG_CNI_CONFIG,
	FLAG_TERMINATE_TCP,
	FLAG_TERMINATE_GRACE,
	FLAG_TERMINATION_METHOD,
	FLAG_VERBOSE,
	FLAG_HELP,
	FLAG_END,
};
static const enum cli_flag dump_flags[] = { FLAG_BPFFS_ROOT, FLAG_JSON, FLAG_VERBOSE, FLAG_HELP, FLAG_END };
static const enum cli_flag status_flags[] = { FLAG_BPFFS_ROOT, FLAG_JSON, FLAG_VERBOSE, FLAG_HELP, FLAG_END };
static const enum cli_flag trace_flags[] = { FLAG_BPFFS_ROOT, FLAG_POD,	    FLAG_SERVICE, FLAG_VERDICT, FLAG_COUNT,
					     FLAG_JSON,	      FLAG_VERBOSE, FLAG_HELP,	  FLAG_END };
static const enum cli_flag install_flags[] = {
	FLAG_CNI_BIN_DIR, FLAG_CNI_CONF_DIR, FLAG_PLUGIN_BINARY, FLAG_INSTALL_CONFIG, FLAG_VERBOSE, FLAG_HELP, FLAG_END
};
static const enum cli_flag uninstall_flags[] = { FLAG_CNI_BIN_DIR, FLAG_CNI_CONF_DIR, FLAG_VERBOSE, FLAG_HELP,
						 FLAG_END };

const struct cli_cmd syncd_commands[] = {
	{ NULL, daemon_flags, "--source file:PATH|kubernetes [flags]", "keep the pinned maps in sync",
	  "Keeps the socklb pinned maps in sync with Services and EndpointSlices.", check_daemon, run_daemon },
	{ "dump", dump_flags, "dump [--bpffs-root DIR] [--json]", "print the pinned frontends and backends",
	  "Prints the frontends and their backends pinned under --bpffs-root.", check_inspect, run_dump },
	{ "status", status_flags, "status [--bpffs-root DIR] [--json] [-v]", "what this node allows socklb to do",
	  "Prints what this node's kernel and this process's privileges allow and what\n"
	  "is pinned under --bpffs-root, changing nothing; exit status 0 when socklb\n"
	  "can run here. -v: what each failed probe tried.",
	  check_inspect, run_status },
	{ "trace", trace_flags,
	  "trace [--bpffs-root DIR] [--json] [--pod P] [--service VIP[:PORT]]\n"
	  "                          [--verdict V[,V...]] [--count N]",
	  "stream which backend each connection gets, and why",
	  "Streams which backend each connect, datagram and reply of the attached pods\n"
	  "gets (tracing is on while it runs; with or without the daemon). --json: one\n"
	  "object a line.",
	  check_trace, run_trace },
	{ "install-cni", install_flags,
	  "install-cni [--cni-bin-dir DIR] [--cni-conf-dir DIR] [--plugin-binary PATH]\n"
	  "                          [--config JSON]",
	  "put the plugin and its conflist entry on this node",
	  "Copies the socklb plugin into the CNI bin dir and adds a socklb entry at the\n"
	  "end of the primary network's conflist (the lexically first *.conf, *.conflist\n"
	  "or *.json in the conf dir; a single-plugin .conf/.json is wrapped into\n"
	  "<name>.conflist). Running it again changes nothing.",
	  check_cni, run_install_cni },
	{ "uninstall-cni", uninstall_flags, "uninstall-cni [--cni-bin-dir DIR] [--cni-conf-dir DIR]",
	  "remove them again",
	  "Removes every socklb entry from the conflists in the conf dir, then the\nplugin binary.", check_cni,
	  run_uninstall_cni },
};

const size_t syncd_commands_count = sizeof(syncd_commands) / sizeof(syncd_commands[0]);
