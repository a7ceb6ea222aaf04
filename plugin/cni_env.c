// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cni_env.h"

/* The kernel's IFNAMSIZ less the terminating NUL. */
#define IFNAME_MAX 15
/* A Kubernetes UID is a 36-character UUID; leave room for other runtimes' ids. */
#define POD_UID_MAX 128

static const char *env_value(cni_getenv_fn getenv_fn, const char *name)
{
	const char *v = getenv_fn(name);

	return v && *v ? v : NULL;
}

void cni_env_read(struct cni_env *env, cni_getenv_fn getenv_fn)
{
	env->command = env_value(getenv_fn, "CNI_COMMAND");
	env->container_id = env_value(getenv_fn, "CNI_CONTAINERID");
	env->netns = env_value(getenv_fn, "CNI_NETNS");
	env->ifname = env_value(getenv_fn, "CNI_IFNAME");
	env->args = env_value(getenv_fn, "CNI_ARGS");
}

int cni_container_id_validate(const char *id, struct cni_error *err)
{
	const char *p;

	if (!isalnum((unsigned char)id[0]))
		return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_CONTAINERID",
				"\"%s\" must start with a letter or digit", id);
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_CONTAINERID",
					"\"%s\" may contain only letters, digits, '_', '.' and '-'", id);
	return 0;
}

int cni_ifname_validate(const char *ifname, struct cni_error *err)
{
	const char *p;

	if (strlen(ifname) > IFNAME_MAX)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_IFNAME", "\"%s\" is longer than %d bytes",
				ifname, IFNAME_MAX);
	if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_IFNAME", "must not be \"%s\"", ifname);
	for (p = ifname; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_IFNAME",
					"\"%s\" contains '/', ':' or white space", ifname);
	return 0;
}

/* Hexadecimal digits and '-' only: the UID becomes part of a cgroup path. */
static int pod_uid_validate(const char *uid, struct cni_error *err)
{
	const char *p;

	if (strlen(uid) > POD_UID_MAX)
		return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS",
				"K8S_POD_UID \"%s\" is longer than %d characters", uid, POD_UID_MAX);
	for (p = uid; *p; p++)
		if (!isxdigit((unsigned char)*p) && *p != '-')
			return cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS",
					"K8S_POD_UID \"%s\" may contain only hexadecimal digits and '-'", uid);
	return 0;
}

int cni_args_parse(const char *text, struct cni_args *args, struct cni_error *err)
{
	char *pair, *next, *eq;

	memset(args, 0, sizeof(*args));
	if (!text || !*text)
		return 0;
	args->buf = strdup(text);
	if (!args->buf)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "copying CNI_ARGS");

	for (pair = args->buf; pair; pair = next) {
		next = strchr(pair, ';');
		if (next)
			*next++ = '\0';
		/* "A=1;" and ";;" leave empty pairs: harmless, as in libcni. */
		if (!*pair)
			continue;
		eq = strchr(pair, '=');
		if (!eq || eq == pair) {
			cni_fail(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS",
				 "pair \"%s\" is not KEY=VALUE (pairs are separated by ';')", pair);
			goto fail;
		}
		*eq = '\0';
		if (strcmp(pair, "K8S_POD_NAMESPACE") == 0)
			args->pod_namespace = eq + 1;
		else if (strcmp(pair, "K8S_POD_NAME") == 0)
			args->pod_name = eq + 1;
		else if (strcmp(pair, "K8S_POD_UID") == 0)
			args->pod_uid = eq + 1;
	}
	/* An empty value is the same as no value. */
	if (args->pod_namespace && !*args->pod_namespace)
		args->pod_namespace = NULL;
	if (args->pod_name && !*args->pod_name)
		args->pod_name = NULL;
	if (args->pod_uid && !*args->pod_uid)
		args->pod_uid = NULL;
	if (args->pod_uid && pod_uid_validate(args->pod_uid, err))
		goto fail;
	return 0;
fail:
	cni_args_free(args);
	return -1;
}

void cni_args_free(struct cni_args *args)
{
	free(args->buf);
	memset(args, 0, sizeof(*args));
}
