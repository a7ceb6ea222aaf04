// SPDX-License-Identifier: Apache-2.0
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach_failures.h"
#include "kube_url.h"
#include "lbmap.h"
#include "metrics_server.h"

#define FOR_RUN (1U << SYNCD_RUN)
#define FOR_DUMP (1U << SYNCD_DUMP)
#define FOR_STATUS (1U << SYNCD_STATUS)
#define FOR_TRACE (1U << SYNCD_TRACE)

/* The commands by name; the daemon itself (SYNCD_RUN) has none. */
static const char *const command_names[] = {
	[SYNCD_DUMP] = "dump",
	[SYNCD_STATUS] = "status",
	[SYNCD_TRACE] = "trace",
};

struct flag {
	const char *name; /* long name, with the dashes */
	const char *short_name; /* or NULL */
	bool takes_value;
	unsigned int commands; /* FOR_* */
	size_t value_offset; /* const char * in struct syncd_options, for flags with a value */
	size_t bool_offset; /* bool in struct syncd_options, for switches */
};

#define VALUE(n, field, cmds)                                                 \
	{                                                                     \
		n, NULL, true, cmds, offsetof(struct syncd_options, field), 0 \
	}
#define SWITCH(n, s, field, cmds)                                           \
	{                                                                   \
		n, s, false, cmds, 0, offsetof(struct syncd_options, field) \
	}

static const struct flag flags[] = {
	VALUE("--source", source, FOR_RUN),
	VALUE("--kubeconfig", kubeconfig, FOR_RUN),
	VALUE("--context", context, FOR_RUN),
	VALUE("--api-server", api_server, FOR_RUN),
	VALUE("--node-name", node_name, FOR_RUN),
	VALUE("--service-proxy-name", service_proxy_name, FOR_RUN),
	VALUE("--bpffs-root", bpffs_root, FOR_RUN | FOR_DUMP | FOR_STATUS | FOR_TRACE),
	VALUE("--metrics-addr", metrics_addr, FOR_RUN),
	VALUE("--attach-failures-file", attach_failures_file, FOR_RUN),
	VALUE("--max-services", max_services_arg, FOR_RUN),
	VALUE("--max-backends", max_backends_arg, FOR_RUN),
	VALUE("--cni-conf-dir", cni_conf_dir, FOR_RUN),
	VALUE("--cni-config", cni_config, FOR_RUN),
	VALUE("--terminate-grace", terminate_grace_arg, FOR_RUN),
	VALUE("--termination-method", termination_method_arg, FOR_RUN),
	SWITCH("--terminate-tcp", NULL, terminate_tcp, FOR_RUN),
	SWITCH("--once", NULL, once, FOR_RUN),
	VALUE("--pod", trace_pod, FOR_TRACE),
	VALUE("--service", trace_service, FOR_TRACE),
	VALUE("--verdict", trace_verdict, FOR_TRACE),
	VALUE("--count", trace_count_arg, FOR_TRACE),
	SWITCH("--json", NULL, json, FOR_DUMP | FOR_STATUS | FOR_TRACE),
	SWITCH("--verbose", "-v", verbose, FOR_RUN | FOR_DUMP | FOR_STATUS | FOR_TRACE),
	SWITCH("--help", "-h", help, FOR_RUN | FOR_DUMP | FOR_STATUS | FOR_TRACE),
};

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: socklb-syncd --source file:PATH|kubernetes [options]\n"
		"       socklb-syncd dump [--bpffs-root DIR] [--json]\n"
		"       socklb-syncd status [--bpffs-root DIR] [--json] [-v]\n"
		"       socklb-syncd trace [--bpffs-root DIR] [--json] [--pod P] [--service VIP[:PORT]]\n"
		"                [--verdict V[,V...]] [--count N]\n"
		"       socklb-syncd install-cni|uninstall-cni [--cni-bin-dir DIR] [--cni-conf-dir DIR] ...\n"
		"                (socklb-syncd install-cni --help for their options)\n"
		"\n"
		"Keeps the socklb pinned maps in sync with Services and EndpointSlices.\n"
		"\n"
		"  --source file:PATH       a JSON file or directory of *.json (kubectl get -o json format),\n"
		"                           reloaded on change\n"
		"  --source kubernetes      the API server: in-cluster, --kubeconfig or --api-server\n"
		"  --kubeconfig FILE        a kubeconfig (YAML or JSON, as kubectl writes it): token, tokenFile,\n"
		"                           client certificate or exec credential plugin\n"
		"  --context NAME           the kubeconfig's context to use (default: its current-context)\n"
		"  --api-server URL         API server URL (overrides the kubeconfig and in-cluster address)\n"
		"  --node-name NAME         this node's Node object (zone, node ports); default: the hostname\n"
		"  --service-proxy-name N   handle the Services labelled service.kubernetes.io/service-proxy-name=N;\n"
		"                           default: those without the label\n"
		"  --bpffs-root DIR         where the maps are pinned (default %s)\n"
		"  --once                   one complete sync, then exit (non-zero on any error)\n"
		"  --metrics-addr HOST:PORT serve /metrics and /healthz (default %s; \"\" disables)\n"
		"  --attach-failures-file F the CNI plugin's record of pods it could not attach, reported\n"
		"                           in /metrics (default %s; the plugin's attachFailuresFile)\n"
		"  --max-services N         frontends the maps hold, when this daemon creates them (default %d)\n"
		"  --max-backends N         backends of all frontends, likewise (default %d)\n"
		"  --cni-conf-dir DIR       put the socklb entry back when the primary CNI rewrites its\n"
		"                           conflist in DIR (as install-cni does)\n"
		"  --cni-config JSON        extra keys of that entry, e.g. {\"namespaces\":[\"*\"]}\n"
		"  --terminate-tcp          when a backend leaves a Service, destroy the TCP connections\n"
		"                           made to it through the Service too (connected UDP sockets\n"
		"                           always are; not with --once)\n"
		"  --terminate-grace DUR    a serving and terminating endpoint keeps its sockets until it\n"
		"                           stops serving, at most DUR (e.g. 5s, 500ms; default 0)\n"
		"  --termination-method M   how sockets are terminated: auto (the default: the cheapest\n"
		"                           this kernel allows), off, records+bpf, records+diag, tasks+bpf,\n"
		"                           tasks+diag, pods+bpf or pods+diag\n"
		"  -v, --verbose            debug logs; (status) what each failed probe tried\n"
		"  --json                   (dump, status, trace) JSON output (trace: one object per line)\n"
		"  -h, --help               this help\n"
		"\n"
		"status prints what this node's kernel and this process's privileges allow\n"
		"and what is pinned under --bpffs-root, changing nothing; exit status 0 when\n"
		"socklb can run here.\n"
		"\n"
		"trace: stream which backend each connect, datagram and reply of the attached pods gets\n"
		"(tracing is on while it runs; with or without the daemon)\n"
		"  --pod P                  only this pod: its UID, its attachment \"<container id>/<ifname>\",\n"
		"                           or a container id prefix\n"
		"  --service VIP[:PORT]     only this frontend (10.96.0.10, 10.96.0.10:80, [fd00::10]:53)\n"
		"  --verdict V[,V...]       only these: translated, refused-no-endpoints, affinity-hit,\n"
		"                           sticky-udp, reverse-translated\n"
		"  --count N                stop after N events\n",
		SOCKLB_DEFAULT_BPFFS_ROOT, SOCKLB_DEFAULT_METRICS_ADDR, SOCKLB_DEFAULT_ATTACH_FAILURES_FILE,
		SOCKLB_DEFAULT_MAX_SERVICES, SOCKLB_DEFAULT_MAX_BACKENDS);
}

static const struct flag *find_flag(const char *arg, size_t name_len)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const struct flag *f = &flags[i];

		if ((strlen(f->name) == name_len && strncmp(arg, f->name, name_len) == 0) ||
		    (f->short_name && strlen(f->short_name) == name_len && strncmp(arg, f->short_name, name_len) == 0))
			return f;
	}
	return NULL;
}

/* --termination-method: auto, off or a method's name. */
static int parse_termination_method(struct syncd_options *o, char *err, size_t err_len)
{
	size_t off;

	o->termination_auto = true;
	o->termination_method = SOCKLB_TERM_OFF;
	if (!o->termination_method_arg || strcmp(o->termination_method_arg, "auto") == 0)
		return 0;
	o->termination_auto = false;
	if (socklb_term_method_parse(o->termination_method_arg, &o->termination_method) == 0)
		return 0;
	off = (size_t)snprintf(err, err_len, "--termination-method \"%s\": expected auto, off",
			       o->termination_method_arg);
	for (int m = SOCKLB_TERM_OFF + 1; m < SOCKLB_TERM_METHODS && off < err_len; m++)
		off += (size_t)snprintf(err + off, err_len - off, ", %s",
					socklb_term_method_name((enum socklb_term_method)m));
	return -EINVAL;
}

/* A map size: a positive count the kernel accepts for max_entries. */
static int parse_size(const char *flag, const char *arg, unsigned int *out, char *err, size_t err_len)
{
	unsigned long v;
	char *end;

	if (!arg)
		return 0;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v == 0 || v > (1UL << 30) || arg[0] == '-') {
		snprintf(err, err_len, "%s \"%s\": expected a count from 1 to %lu", flag, arg, 1UL << 30);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
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

static int validate(struct syncd_options *o, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (o->help)
		return 0;
	if (!*o->bpffs_root) {
		snprintf(err, err_len, "--bpffs-root must not be empty");
		return -EINVAL;
	}
	if (o->bpffs_root[0] != '/') {
		snprintf(err, err_len, "--bpffs-root \"%s\": must be an absolute path (a directory on a bpffs mount)",
			 o->bpffs_root);
		return -EINVAL;
	}
	if (o->command == SYNCD_TRACE) {
		if (parse_size("--count", o->trace_count_arg, &o->trace_count, err, err_len))
			return -EINVAL;
		return trace_filter_parse(&o->trace_filter, o->trace_pod, o->trace_service, o->trace_verdict, err,
					  err_len);
	}
	if (o->command != SYNCD_RUN)
		return 0;
	if (!o->source) {
		snprintf(err, err_len, "--source is required (file:PATH or kubernetes)");
		return -EINVAL;
	}
	if (strcmp(o->source, "kubernetes") == 0) {
		o->source_kind = SOURCE_KUBERNETES;
	} else if (strncmp(o->source, "file:", 5) == 0 && o->source[5]) {
		o->source_kind = SOURCE_FILE;
		o->file_path = o->source + 5;
	} else {
		snprintf(err, err_len, "--source \"%s\": expected file:PATH or kubernetes", o->source);
		return -EINVAL;
	}
	if (o->source_kind == SOURCE_FILE && (o->kubeconfig || o->api_server || o->context)) {
		snprintf(err, err_len, "%s only applies to --source kubernetes",
			 o->kubeconfig ? "--kubeconfig"
			 : o->context  ? "--context"
				       : "--api-server");
		return -EINVAL;
	}
	if (o->context && (!*o->context || !o->kubeconfig)) {
		snprintf(err, err_len, *o->context ? "--context needs --kubeconfig" : "--context must not be empty");
		return -EINVAL;
	}
	if (o->node_name && !*o->node_name) {
		snprintf(err, err_len, "--node-name must not be empty");
		return -EINVAL;
	}
	/* The file source matches these names as the API would: refuse what the API would refuse. */
	if (o->node_name && !kube_node_name_valid(o->node_name)) {
		snprintf(err, err_len,
			 "--node-name \"%s\": not a valid Node name (lowercase RFC 1123 subdomain: a-z, 0-9, '-' and "
			 "'.', at most 253)",
			 o->node_name);
		return -EINVAL;
	}
	if (!kube_label_value_valid(o->service_proxy_name)) {
		snprintf(err, err_len,
			 "--service-proxy-name \"%s\": not a valid label value (at most 63 of A-Z a-z 0-9 - _ ., "
			 "alphanumeric at both ends)",
			 o->service_proxy_name);
		return -EINVAL;
	}
	if (parse_size("--max-services", o->max_services_arg, &o->max_services, err, err_len) ||
	    parse_size("--max-backends", o->max_backends_arg, &o->max_backends, err, err_len))
		return -EINVAL;
	if (o->terminate_grace_arg && cli_duration_parse(o->terminate_grace_arg, &o->terminate_grace_ms)) {
		snprintf(err, err_len,
			 "--terminate-grace \"%s\": expected a duration such as 5s, 500ms or 0 (at most 24h)",
			 o->terminate_grace_arg);
		return -EINVAL;
	}
	if (parse_termination_method(o, err, err_len))
		return -EINVAL;
	/* Sockets are terminated by the running daemon: a one-shot sync leaves them alone. */
	if (o->once && (o->terminate_tcp || o->terminate_grace_arg || o->termination_method_arg)) {
		snprintf(err, err_len, "%s applies to the running daemon, not to --once (which terminates no socket)",
			 o->terminate_tcp	  ? "--terminate-tcp"
			 : o->terminate_grace_arg ? "--terminate-grace"
						  : "--termination-method");
		return -EINVAL;
	}
	if (o->attach_failures_file[0] != '/') {
		snprintf(err, err_len, "--attach-failures-file \"%s\": must be an absolute path",
			 o->attach_failures_file);
		return -EINVAL;
	}
	if (*o->metrics_addr && metrics_addr_parse(o->metrics_addr, &ss, &len)) {
		snprintf(err, err_len, "--metrics-addr \"%s\": expected HOST:PORT (e.g. 127.0.0.1:9466, [::1]:9466)",
			 o->metrics_addr);
		return -EINVAL;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct syncd_options *o, char *err, size_t err_len)
{
	int i = 1;

	memset(o, 0, sizeof(*o));
	o->bpffs_root = SOCKLB_DEFAULT_BPFFS_ROOT;
	o->metrics_addr = SOCKLB_DEFAULT_METRICS_ADDR;
	o->attach_failures_file = SOCKLB_DEFAULT_ATTACH_FAILURES_FILE;
	o->service_proxy_name = "";
	for (size_t c = 0; argc > 1 && c < sizeof(command_names) / sizeof(command_names[0]); c++) {
		if (command_names[c] && strcmp(argv[1], command_names[c]) == 0) {
			o->command = (enum syncd_command)c;
			i = 2;
		}
	}
	for (; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct flag *f = arg[0] == '-' ? find_flag(arg, name_len) : NULL;
		const char *value;

		if (!f) {
			snprintf(err, err_len, arg[0] == '-' ? "unknown flag %s" : "unexpected argument \"%s\"", arg);
			return -EINVAL;
		}
		if (!(f->commands & (1U << o->command))) {
			snprintf(err, err_len, "%s does not apply to %s", f->name,
				 o->command != SYNCD_RUN ? command_names[o->command] : "the daemon");
			return -EINVAL;
		}
		if (!f->takes_value) {
			if (eq) {
				snprintf(err, err_len, "%s takes no value", f->name);
				return -EINVAL;
			}
			*(bool *)((char *)o + f->bool_offset) = true;
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, err_len, "%s needs a value", f->name);
			return -EINVAL;
		}
		*(const char **)((char *)o + f->value_offset) = value;
	}
	return validate(o, err, err_len);
}
