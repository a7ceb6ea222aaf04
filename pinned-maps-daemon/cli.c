// SPDX-License-Identifier: Apache-2.0
/* socklb-syncd's command line: see cli.h. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach_failures.h"
#include "cni_install.h"
#include "lbmap.h"
#include "metrics_server.h"

/* getopt_long's val of a long flag: above every character, so never a short flag's nor 0 (unknown). */
#define LONG_VAL(f) (256 + (int)(f))

struct flag_def {
	const char *name; /* without the dashes */
	const char *value; /* what its value is, for the usage; NULL: a switch */
	const char *help; /* the rest of its help line; "\n" continues it under the first */
	unsigned int default_count; /* said after the help when not 0 */
	char short_name; /* 0: none */
};

static const struct flag_def flag_defs[] = {
	[FLAG_SOURCE] = { "source", "file:PATH|kubernetes",
			  "file:PATH: a JSON file or directory of *.json files (as\n"
			  "kubectl get -o json writes them), reloaded on change;\n"
			  "kubernetes: the API server (in-cluster, --kubeconfig or\n"
			  "--api-server)" },
	[FLAG_KUBECONFIG] = { "kubeconfig", "FILE",
			      "a kubeconfig (YAML or JSON, as kubectl writes it): token,\n"
			      "tokenFile, client certificate or exec credential plugin" },
	[FLAG_CONTEXT] = { "context", "NAME", "the kubeconfig's context to use (default: its current-context)" },
	[FLAG_API_SERVER] = { "api-server", "URL",
			      "API server URL (overrides the kubeconfig and the in-cluster\naddress)" },
	[FLAG_NODE_NAME] = { "node-name", "NAME",
			     "this node's Node object (zone, node ports); default: the\nhostname" },
	[FLAG_SERVICE_PROXY_NAME] = { "service-proxy-name", "N",
				      "handle the Services labelled\n"
				      "service.kubernetes.io/service-proxy-name=N; default: those\n"
				      "without the label" },
	[FLAG_BPFFS_ROOT] = { "bpffs-root", "DIR",
			      "where the maps are pinned (default " SOCKLB_DEFAULT_BPFFS_ROOT ")" },
	[FLAG_ONCE] = { "once", NULL, "one complete sync, then exit (non-zero on any error)" },
	[FLAG_METRICS_ADDR] = { "metrics-addr", "HOST:PORT",
				"serve /metrics and /healthz (default " SOCKLB_DEFAULT_METRICS_ADDR ";\n"
				"\"\" disables)" },
	[FLAG_ATTACH_FAILURES_FILE] = { "attach-failures-file", "FILE",
					"the CNI plugin's record of the pods it could not attach,\n"
					"reported in /metrics (the plugin's attachFailuresFile;\n"
					"default " SOCKLB_DEFAULT_ATTACH_FAILURES_FILE ")" },
	[FLAG_MAX_SERVICES] = { "max-services", "N", "frontends the maps hold, when this daemon creates them\n",
				SOCKLB_DEFAULT_MAX_SERVICES },
	[FLAG_MAX_BACKENDS] = { "max-backends", "N", "backends of all frontends, likewise",
				SOCKLB_DEFAULT_MAX_BACKENDS },
	[FLAG_CNI_BIN_DIR] = { "cni-bin-dir", "DIR", "CNI plugin binaries (default " CNI_DEFAULT_BIN_DIR ")" },
	[FLAG_CNI_CONF_DIR] = { "cni-conf-dir", "DIR",
				"CNI network configs (install-cni's default " CNI_DEFAULT_CONF_DIR ");\n"
				"the daemon puts the socklb entry back when the primary CNI\n"
				"rewrites its conflist there" },
	[FLAG_CNI_CONFIG] = { "cni-config", "JSON", "extra keys of that entry, e.g. {\"namespaces\":[\"*\"]}" },
	[FLAG_PLUGIN_BINARY] = { "plugin-binary", "PATH",
				 "the plugin to install (default: socklb next to socklb-syncd)" },
	[FLAG_INSTALL_CONFIG] = { "config", "JSON", "extra keys of the socklb entry, e.g. '{\"namespaces\":[\"*\"]}'" },
	[FLAG_TERMINATE_TCP] = { "terminate-tcp", NULL,
				 "when a backend leaves a Service, destroy the TCP connections\n"
				 "made to it through the Service too (connected UDP sockets\n"
				 "always are; not with --once)" },
	[FLAG_TERMINATE_GRACE] = { "terminate-grace", "DUR",
				   "a serving and terminating endpoint keeps its sockets until\n"
				   "it stops serving, at most DUR (e.g. 5s, 500ms; default 0)" },
	[FLAG_TERMINATION_METHOD] = { "termination-method", "M",
				      "how sockets are terminated: auto (the default: the cheapest\n"
				      "this kernel allows), off, records+bpf, records+diag,\n"
				      "tasks+bpf, tasks+diag, pods+bpf or pods+diag" },
	[FLAG_POD] = { "pod", "P",
		       "only this pod: its UID, its attachment\n"
		       "\"<container id>/<ifname>\", or a container id prefix" },
	[FLAG_SERVICE] = { "service", "VIP[:PORT]", "only this frontend (10.96.0.10, 10.96.0.10:80,\n[fd00::10]:53)" },
	[FLAG_VERDICT] = { "verdict", "V[,V...]",
			   "only these: translated, refused-no-endpoints, affinity-hit,\n"
			   "sticky-udp, reverse-translated" },
	[FLAG_COUNT] = { "count", "N", "stop after N events" },
	[FLAG_JSON] = { "json", NULL, "JSON output" },
	[FLAG_VERBOSE] = { "verbose", NULL, "debug logs", .short_name = 'v' },
	[FLAG_HELP] = { "help", NULL, "this help", .short_name = 'h' },
};

#define N_FLAGS (sizeof(flag_defs) / sizeof(flag_defs[0]))

/* Where the flag's value goes. */
static void flag_set(struct syncd_options *o, enum cli_flag f, const char *arg)
{
	switch (f) {
	case FLAG_SOURCE:
		o->source = arg;
		break;
	case FLAG_KUBECONFIG:
		o->kubeconfig = arg;
		break;
	case FLAG_CONTEXT:
		o->context = arg;
		break;
	case FLAG_API_SERVER:
		o->api_server = arg;
		break;
	case FLAG_NODE_NAME:
		o->node_name = arg;
		break;
	case FLAG_SERVICE_PROXY_NAME:
		o->service_proxy_name = arg;
		break;
	case FLAG_BPFFS_ROOT:
		o->bpffs_root = arg;
		break;
	case FLAG_ONCE:
		o->once = true;
		break;
	case FLAG_METRICS_ADDR:
		o->metrics_addr = arg;
		break;
	case FLAG_ATTACH_FAILURES_FILE:
		o->attach_failures_file = arg;
		break;
	case FLAG_MAX_SERVICES:
		o->max_services_arg = arg;
		break;
	case FLAG_MAX_BACKENDS:
		o->max_backends_arg = arg;
		break;
	case FLAG_CNI_BIN_DIR:
		o->cni_bin_dir = arg;
		break;
	case FLAG_CNI_CONF_DIR:
		o->cni_conf_dir = arg;
		break;
	case FLAG_CNI_CONFIG:
	case FLAG_INSTALL_CONFIG:
		o->cni_entry_config = arg;
		break;
	case FLAG_PLUGIN_BINARY:
		o->plugin_binary = arg;
		break;
	case FLAG_TERMINATE_TCP:
		o->terminate_tcp = true;
		break;
	case FLAG_TERMINATE_GRACE:
		o->terminate_grace_arg = arg;
		break;
	case FLAG_TERMINATION_METHOD:
		o->termination_method_arg = arg;
		break;
	case FLAG_POD:
		o->trace_pod = arg;
		break;
	case FLAG_SERVICE:
		o->trace_service = arg;
		break;
	case FLAG_VERDICT:
		o->trace_verdict = arg;
		break;
	case FLAG_COUNT:
		o->trace_count_arg = arg;
		break;
	case FLAG_JSON:
		o->json = true;
		break;
	case FLAG_VERBOSE:
		o->verbose = true;
		break;
	case FLAG_HELP:
		o->help = true;
		break;
	case FLAG_END:
		break;
	}
}

void cli_defaults(struct syncd_options *o)
{
	memset(o, 0, sizeof(*o));
	o->bpffs_root = SOCKLB_DEFAULT_BPFFS_ROOT;
	o->metrics_addr = SOCKLB_DEFAULT_METRICS_ADDR;
	o->attach_failures_file = SOCKLB_DEFAULT_ATTACH_FAILURES_FILE;
	o->service_proxy_name = "";
}

void cli_source_config(const struct syncd_options *o, struct source_config *sc)
{
	*sc = (struct source_config){
		.spec = o->source,
		.kubeconfig = o->kubeconfig,
		.context = o->context,
		.api_server = o->api_server,
		.node_name = o->node_name,
		.service_proxy_name = o->service_proxy_name,
		.once = o->once,
	};
}

int cli_duration_parse(const char *s, unsigned int *ms)
{
	static const struct {
		const char *suffix;
		unsigned long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 } };
	unsigned long v;
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!*end) {
		/* A bare number has no unit to go by: only 0 means the same in every one. */
		if (v)
			return -EINVAL;
		*ms = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > 86400000UL / units[i].ms)
			return -EINVAL;
		*ms = (unsigned int)(v * units[i].ms);
		return 0;
	}
	return -EINVAL;
}

static const char *cmd_name(const struct cli_cmd *cmd)
{
	return cmd->name ? cmd->name : "the daemon";
}

/* The command that takes this long flag (given as "--name" or "--name=value"), for "does not apply to". */
static bool cmd_takes(const struct cli_cmd *cmd, const char *arg)
{
	size_t len = strcspn(arg + 2, "=");

	for (const enum cli_flag *f = cmd->flags; *f != FLAG_END; f++) {
		if (strlen(flag_defs[*f].name) == len && strncmp(arg + 2, flag_defs[*f].name, len) == 0)
			return true;
	}
	return false;
}

/* getopt_long's view of the command's flags. */
static void build_options(const struct cli_cmd *cmd, struct option *longs, char *shorts)
{
	size_t n = 0, s = 0;

	/* ':' first: a missing value comes back as ':', not as an unknown flag. */
	shorts[s++] = ':';
	for (const enum cli_flag *f = cmd->flags; *f != FLAG_END; f++) {
		const struct flag_def *d = &flag_defs[*f];

		longs[n++] = (struct option){ d->name, d->value ? required_argument : no_argument, NULL, LONG_VAL(*f) };
		if (d->short_name)
			shorts[s++] = d->short_name;
	}
	longs[n] = (struct option){ 0 };
	shorts[s] = '\0';
}

static enum cli_flag short_flag(int c)
{
	for (size_t f = 0; f < N_FLAGS; f++) {
		if (flag_defs[f].short_name == c)
			return (enum cli_flag)f;
	}
	return FLAG_END;
}

/* What is wrong with the flag getopt_long refused (argv[optind - 1]). */
static int refused(const struct cli_cmd *cmds, size_t n, const struct cli_cmd *cmd, const char *arg, int c,
		   struct socklb_err *e)
{
	if (c == ':')
		return socklb_fail(e, -EINVAL, "%s needs a value", arg);
	/* A short flag: getopt_long names the letter (which may sit in a group, "-vx"). */
	if (strncmp(arg, "--", 2) != 0)
		return socklb_fail(e, -EINVAL, "unknown flag -%c", optopt);
	/* getopt_long says which known flag got a value it does not take (optopt), 0 for an unknown one. */
	if (optopt && strncmp(arg, "--", 2) == 0 && strchr(arg, '='))
		return socklb_fail(e, -EINVAL, "%.*s takes no value", (int)strcspn(arg, "="), arg);
	for (size_t i = 0; i < n; i++) {
		if (&cmds[i] != cmd && cmd_takes(&cmds[i], arg))
			return socklb_fail(e, -EINVAL, "%.*s does not apply to %s", (int)strcspn(arg, "="), arg,
					   cmd_name(cmd));
	}
	return socklb_fail(e, -EINVAL, "unknown flag %s", arg);
}

int cli_parse(const struct cli_cmd *cmds, size_t n, int argc, char **argv, const struct cli_cmd **cmd,
	      struct syncd_options *o, struct socklb_err *e)
{
	struct option longs[N_FLAGS + 1];
	char shorts[2 * N_FLAGS + 2];
	int c, first = 1;

	cli_defaults(o);
	*cmd = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!cmds[i].name && !*cmd)
			*cmd = &cmds[i];
		else if (cmds[i].name && argc > 1 && strcmp(argv[1], cmds[i].name) == 0) {
			*cmd = &cmds[i];
			first = 2;
			break;
		}
	}
	if (!*cmd)
		return socklb_fail(e, -EINVAL, "no command");
	build_options(*cmd, longs, shorts);
	/* From the command's first flag on; getopt keeps its place in globals: start afresh. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - first + 1, argv + first - 1, shorts, longs, NULL)) != -1) {
		const char *arg = argv[first - 1 + optind - 1];

		if (c == ':' || c == '?')
			return refused(cmds, n, *cmd, arg, c, e);
		flag_set(o, c >= LONG_VAL(0) ? (enum cli_flag)(c - LONG_VAL(0)) : short_flag(c), optarg);
	}
	if (optind < argc - first + 1)
		return socklb_fail(e, -EINVAL, "unexpected argument \"%s\"", argv[first - 1 + optind]);
	if (o->help || !(*cmd)->check)
		return 0;
	return (*cmd)->check(o, e);
}

static void flag_usage(FILE *out, enum cli_flag f)
{
	const struct flag_def *d = &flag_defs[f];
	char head[48];
	const char *line = d->help;

	if (d->short_name)
		snprintf(head, sizeof(head), "-%c, --%s%s%s", d->short_name, d->name, d->value ? " " : "",
			 d->value ? d->value : "");
	else
		snprintf(head, sizeof(head), "--%s%s%s", d->name, d->value ? " " : "", d->value ? d->value : "");
	/* A long head gets its own line; the help starts in the same column either way. */
	if (strlen(head) > 24)
		fprintf(out, "  %s\n%28s", head, "");
	else
		fprintf(out, "  %-26s", head);
	for (;;) {
		size_t len = strcspn(line, "\n");

		fprintf(out, "%.*s", (int)len, line);
		if (!line[len])
			break;
		line += len + 1;
		fprintf(out, "\n%28s", "");
	}
	if (d->default_count)
		fprintf(out, "%s(default %u)", *line ? " " : "", d->default_count);
	fputc('\n', out);
}

void cli_usage(const struct cli_cmd *cmds, size_t n, const struct cli_cmd *cmd, FILE *out)
{
	fprintf(out, "usage: socklb-syncd %s\n\n%s\n\n", cmd->usage, cmd->about);
	for (const enum cli_flag *f = cmd->flags; *f != FLAG_END; f++)
		flag_usage(out, *f);
	if (cmd->name)
		return;
	fputs("\ncommands (socklb-syncd COMMAND --help for each one's flags):\n", out);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].name)
			fprintf(out, "  %-26s%s\n", cmds[i].name, cmds[i].summary);
	}
}
