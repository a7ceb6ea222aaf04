// SPDX-License-Identifier: Apache-2.0
/*
 * socklb, the CNI chained plugin: reads the request (environment, stdin),
 * runs the verb and writes exactly one thing to stdout: the verb's result, or
 * the CNI error JSON with a non-zero exit. Logs go to stderr or logFile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni_env.h"
#include "cni_error.h"
#include "cni_version.h"
#include "config.h"
#include "datapath.h"
#include "fsutil.h"
#include "log.h"
#include "verbs.h"

#define PROG "socklb"
/* GC lists every attachment on the node; far below this even on a busy one. */
#define STDIN_MAX (64u << 20)

static int read_stdin(char **text, size_t *len, struct cni_error *err)
{
	struct socklb_err why;
	int ret = socklb_fd_read(STDIN_FILENO, "stdin", STDIN_MAX, text, len, &why);

	if (ret == -EFBIG)
		return cni_fail(err, CNI_ERR_IO, "network configuration too large", "%s", why.msg);
	if (ret == -ENOMEM)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "%s", why.msg);
	if (ret)
		return cni_fail(err, CNI_ERR_IO, "cannot read the network configuration", "%s", why.msg);
	return 0;
}

static int check_env(const struct cni_verb *verb, const struct cni_env *env, struct cni_error *err)
{
	char missing[96] = "";
	size_t off = 0;

	if ((verb->needs & NEED_CONTAINERID) && !env->container_id)
		off += snprintf(missing + off, sizeof(missing) - off, "%sCNI_CONTAINERID", off ? "," : "");
	if ((verb->needs & NEED_NETNS) && !env->netns)
		off += snprintf(missing + off, sizeof(missing) - off, "%sCNI_NETNS", off ? "," : "");
	if ((verb->needs & NEED_IFNAME) && !env->ifname)
		off += snprintf(missing + off, sizeof(missing) - off, "%sCNI_IFNAME", off ? "," : "");
	if (off)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "required environment variables missing", "%s %s needs [%s]",
				PROG, verb->name, missing);
	if (env->container_id && cni_container_id_validate(env->container_id, err))
		return -1;
	if (env->ifname && cni_ifname_validate(env->ifname, err))
		return -1;
	return 0;
}

/* logFile replaces stderr; when it cannot be opened, stderr stays and says why. */
static FILE *logging_setup(const struct plugin_config *conf)
{
	FILE *file = NULL;

	if (conf->log_file) {
		file = fopen(conf->log_file, "ae");
		if (!file)
			fprintf(stderr, PROG ": cannot open logFile %s: %s; logging to stderr\n", conf->log_file,
				strerror(errno));
	}
	socklb_log_init(PROG, (enum socklb_log_level)conf->log_level, file, !file);
	return file;
}

static int run(struct cni_request *req, const struct cni_verb *verb, char **out, struct cni_error *err, FILE **log_file)
{
	if (check_env(verb, &req->env, err))
		return -1;
	/* A person running VERSION by hand has no configuration to type. */
	if ((verb->reads_config || !isatty(STDIN_FILENO)) && read_stdin(&req->stdin_text, &req->stdin_len, err))
		return -1;
	if (verb->reads_config) {
		if (plugin_config_parse(req->stdin_text, req->stdin_len, &req->conf, err))
			return -1;
		if (!cni_version_at_least(req->conf.cni_version, verb->since))
			return cni_fail(err, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions",
					"config version %s does not allow %s (it needs %s or later)",
					req->conf.cni_version, verb->name, verb->since);
		*log_file = logging_setup(&req->conf);
		/* CNI_ARGS describe the pod: VERSION has none to read. */
		if (cni_args_parse(req->env.args, &req->args, err))
			return -1;
	}
	return verb->run(req, out, err);
}

int main(void)
{
	struct cni_request req = { 0 };
	struct cni_error err = { 0 };
	const struct cni_verb *verb;
	const char *version;
	FILE *log_file = NULL;
	char *out = NULL;
	int ret = 0;

	socklb_log_init(PROG, SOCKLB_LOG_WARN, NULL, true);
	cni_env_read(&req.env, getenv);
	if (!req.env.command) {
		fprintf(stderr, "CNI plugin " PROG " (datapath %s)\nCNI protocol versions supported: %s\n",
			socklb_datapath_id(), cni_supported_versions_text());
		return 0;
	}
	verb = cni_verb_find(req.env.command);
	if (!verb)
		cni_fail(&err, CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND",
			 "\"%s\" is none of ADD, DEL, CHECK, GC, STATUS, VERSION", req.env.command);
	else
		run(&req, verb, &out, &err, &log_file);

	if (err.code) {
		version = req.conf.cni_version && cni_version_supported(req.conf.cni_version) ? req.conf.cni_version
											      : CNI_VERSION_LATEST;
		/*
		 * The runtime reports the error JSON (and drops a failing plugin's
		 * stderr): only a logFile, the node's own record, gets it as a line.
		 */
		if (log_file)
			pr_err("%s %s: %s: %s", req.env.command, req.env.container_id ?: "-", err.msg, err.details);
		free(out);
		out = cni_error_json(&err, version);
		ret = 1;
	}
	if (out && (fputs(out, stdout) == EOF || fflush(stdout) == EOF)) {
		pr_err("writing the result to stdout: %s", strerror(errno));
		ret = 1;
	}
	free(out);
	cni_args_free(&req.args);
	plugin_config_free(&req.conf);
	free(req.stdin_text);
	socklb_log_init(PROG, SOCKLB_LOG_WARN, NULL, true);
	if (log_file)
		fclose(log_file);
	return ret;
}
