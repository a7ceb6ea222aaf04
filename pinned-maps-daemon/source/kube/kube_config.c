// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fsutil.h"
#include "kube_config.h"
#include "kube_exec.h"
#include "kube_yaml.h"
#include "log.h"

/* A kubeconfig or a CA bundle: a few KiB, a kubeconfig of many clusters some MiB. */
#define KUBE_FILE_MAX (16u << 20)

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_base64_decode(const char *in, struct kube_blob *out)
{
	size_t len = strlen(in);
	unsigned int bits = 0, nbits = 0, pad = 0;
	char *buf = malloc(len / 4 * 3 + 3);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	for (const char *p = in; *p; p++) {
		unsigned char c = *p;
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = base64_value(c);
		if (v < 0 || pad)
			goto bad; /* a foreign character, or data after the padding */
		bits = (bits << 6) | (unsigned int)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			buf[n++] = (char)(bits >> nbits);
			bits &= (1u << nbits) - 1;
		}
	}
	/* leftover bits must be the zero fill of a short final group, padded or not */
	if (nbits >= 6 || bits || pad > 2 || n == 0)
		goto bad;
	out->data = buf;
	out->len = n;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

int kube_conn_set_server(struct kube_conn *c, const char *server, const char *what, struct socklb_err *e)
{
	size_t len = strlen(server);
	char *copy;

	if (strncasecmp(server, "https://", 8) != 0 || len == 8)
		return socklb_fail(e, -EINVAL, "%s: server \"%s\" must be an https:// URL", what, server);
	while (len > 8 && server[len - 1] == '/')
		len--;
	if (len == 8)
		return socklb_fail(e, -EINVAL, "%s: server \"%s\" names no host", what, server);
	copy = strndup(server, len);
	if (!copy)
		return -ENOMEM;
	free(c->server);
	c->server = copy;
	return 0;
}

char *kube_base64_encode(const void *data, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16 | (i + 1 < len ? (unsigned int)in[i + 1] << 8 : 0) |
				 (i + 2 < len ? in[i + 2] : 0);

		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		*p++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*p++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

/* A scalar's text: a string, or a YAML number kept as written; NULL otherwise. */
static const char *scalar_text(const cJSON *item)
{
	return cJSON_IsString(item) || cJSON_IsRaw(item) ? item->valuestring : NULL;
}

/* A string member: 0 and *out = NULL when absent or empty, -EINVAL (logged) when not a string. */
static int get_string(const cJSON *obj, const char *key, const char *where, const char **out, struct socklb_err *e)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!scalar_text(item))
		return socklb_fail(e, -EINVAL, "%s.%s must be a string", where, key);
	*out = item->valuestring[0] ? item->valuestring : NULL;
	return 0;
}

/* A boolean member: false when absent, -EINVAL (logged) when not true or false. */
static int get_bool(const cJSON *obj, const char *key, const char *where, bool *out, struct socklb_err *e)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = false;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsBool(item))
		return socklb_fail(e, -EINVAL, "%s.%s must be true or false", where, key);
	*out = cJSON_IsTrue(item);
	return 0;
}

/* A list member (absent or null = empty): -EINVAL (logged) when not a list. */
static int get_list(const cJSON *obj, const char *key, const char *where, const cJSON **out, struct socklb_err *e)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsArray(item))
		return socklb_fail(e, -EINVAL, "%s.%s must be a list", where, key);
	*out = item;
	return 0;
}

/* What a field we do not implement would have meant: refused rather than silently ignored. */
struct unsupported {
	const char *field;
	const char *why;
};

static int refuse_unsupported(const cJSON *obj, const struct unsupported *fields, const char *where,
			      struct socklb_err *e)
{
	for (; fields->field; fields++) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, fields->field);

		if (item && !cJSON_IsNull(item) && !(cJSON_IsString(item) && !item->valuestring[0]))
			return socklb_fail(e, -EOPNOTSUPP, "%s.%s is not supported: %s", where, fields->field,
					   fields->why);
	}
	return 0;
}

/* The "inner" object of the entry of root[list] named name, e.g. contexts[name].context. */
static const cJSON *find_named(const cJSON *root, const char *list, const char *name, const char *inner,
			       const char *where, const char *because, struct socklb_err *e)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, list);
	const cJSON *entry;

	if (!cJSON_IsArray(entries))
		entries = NULL;
	cJSON_ArrayForEach(entry, entries) {
		const char *n = scalar_text(cJSON_GetObjectItemCaseSensitive(entry, "name"));
		const cJSON *obj;

		if (!n || strcmp(n, name) != 0)
			continue;
		obj = cJSON_GetObjectItemCaseSensitive(entry, inner);
		if (!cJSON_IsObject(obj)) {
			socklb_fail(e, -EINVAL, "%s: %s[\"%s\"].%s is missing", where, list, name, inner);
			return NULL;
		}
		return obj;
	}
	socklb_fail(e, -EINVAL, "%s: %s has no entry named \"%s\" (%s)", where, list, name, because);
	return NULL;
}

/* A name in the kubeconfig: relative names are relative to the kubeconfig's directory, as in client-go. */
static int resolve_path(const char *value, const char *kubeconfig, char **out)
{
	const char *slash = strrchr(kubeconfig, '/');
	int n;

	if (value[0] == '/' || !slash)
		n = asprintf(out, "%s", value);
	else
		n = asprintf(out, "%.*s/%s", (int)(slash - kubeconfig), kubeconfig, value);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A file named in the kubeconfig, which must be readable. */
static int resolve_file(const char *value, const char *kubeconfig, const char *where, const char *field, char **out,
			struct socklb_err *e)
{
	int err = resolve_path(value, kubeconfig, out);

	if (err)
		return err;
	if (access(*out, R_OK) != 0) {
		err = socklb_fail(e, socklb_errno(), "%s.%s: %s: %s", where, field, *out, strerror(errno));
		free(*out);
		*out = NULL;
		return err;
	}
	return 0;
}

/*
 * One credential or CA given either as "<field>-data" (inline base64 PEM) or
 * "<field>" (a file); the inline form wins, as in kubectl.
 */
static int pem_field(const cJSON *obj, const char *field, const char *where, const char *kubeconfig, char **file,
		     struct kube_blob *blob, struct socklb_err *e)
{
	char data_field[64];
	const char *data, *path;
	int err;

	snprintf(data_field, sizeof(data_field), "%s-data", field);
	err = get_string(obj, data_field, where, &data, e);
	if (!err)
		err = get_string(obj, field, where, &path, e);
	if (err)
		return err;
	if (data) {
		err = kube_base64_decode(data, blob);
		if (err == -EINVAL)
			return socklb_fail(e, err, "%s.%s is not valid base64", where, data_field);
		return err;
	}
	if (path)
		return resolve_file(path, kubeconfig, where, field, file, e);
	return 0;
}

static int parse_proxy_url(const cJSON *cluster, const char *where, struct kube_conn *c, struct socklb_err *e)
{
	static const char *const schemes[] = { "http://", "https://", "socks5://", NULL };
	const char *url;
	int err = get_string(cluster, "proxy-url", where, &url, e);

	if (err || !url)
		return err;
	for (const char *const *s = schemes; *s; s++) {
		if (strncasecmp(url, *s, strlen(*s)) == 0) {
			c->proxy_url = strdup(url);
			return c->proxy_url ? 0 : -ENOMEM;
		}
	}
	return socklb_fail(e, -EINVAL, "%s.proxy-url \"%s\" must be an http://, https:// or socks5:// URL", where, url);
}

/*
 * tls-server-name: a DNS name or an IP address (client-go's ServerName): it
 * becomes a URL's host, so nothing else is let through.
 */
static int parse_tls_server_name(const cJSON *cluster, const char *where, struct kube_conn *c, struct socklb_err *e)
{
	const char *name;
	int err = get_string(cluster, "tls-server-name", where, &name, e);
	struct in6_addr v6;

	if (err || !name)
		return err;
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(name) &&
	    inet_pton(AF_INET6, name, &v6) != 1)
		return socklb_fail(e, -EINVAL, "%s.tls-server-name \"%s\" is neither a DNS name nor an IP address",
				   where, name);
	c->tls_server_name = strdup(name);
	return c->tls_server_name ? 0 : -ENOMEM;
}

static int parse_cluster(const cJSON *cluster, const char *where, const char *path, struct kube_conn *c,
			 struct socklb_err *e)
{
	const char *server;
	int err;

	err = get_string(cluster, "server", where, &server, e);
	if (!err && !server)
		err = socklb_fail(e, -EINVAL, "%s.server is missing", where);
	if (!err)
		err = kube_conn_set_server(c, server, where, e);
	if (!err)
		err = get_bool(cluster, "insecure-skip-tls-verify", where, &c->insecure, e);
	if (!err)
		err = get_bool(cluster, "disable-compression", where, &c->no_compression, e);
	if (!err)
		err = parse_proxy_url(cluster, where, c, e);
	if (!err)
		err = parse_tls_server_name(cluster, where, c, e);
	if (!err)
		err = pem_field(cluster, "certificate-authority", where, path, &c->ca_file, &c->ca, e);
	if (err)
		return err;
	if (c->insecure && (c->ca_file || c->ca.data)) {
		/* client-go refuses this too: which of the two did the author mean? */
		return socklb_fail(e, -EINVAL,
				   "%s has both insecure-skip-tls-verify and certificate-authority%s: remove one",
				   where, c->ca.data ? "-data" : "");
	}
	if (c->insecure)
		pr_warn("%s.insecure-skip-tls-verify is true: the API server's certificate is NOT verified; "
			"whoever can reach this node's traffic can impersonate the API server and redirect every "
			"Service. Use certificate-authority(-data) instead",
			where);
	return 0;
}

/* The strings of a list member, NULL-ended ("args"). */
static int string_list(const cJSON *obj, const char *key, const char *where, char ***out, struct socklb_err *e)
{
	const cJSON *list, *item;
	size_t n = 0;
	int err = get_list(obj, key, where, &list, e);

	if (err)
		return err;
	*out = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	cJSON_ArrayForEach(item, list) {
		const char *s = scalar_text(item);

		if (!s)
			return socklb_fail(e, -EINVAL, "%s.%s[%zu] must be a string", where, key, n);
		(*out)[n] = strdup(s);
		if (!(*out)[n++])
			return -ENOMEM;
	}
	return 0;
}

/* exec.env: [{name, value}] as "NAME=value", NULL-ended. */
static int env_list(const cJSON *exec, const char *where, char ***out, struct socklb_err *e)
{
	const cJSON *list, *item;
	size_t n = 0;
	int err = get_list(exec, "env", where, &list, e);

	if (err)
		return err;
	*out = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	cJSON_ArrayForEach(item, list) {
		const char *name = scalar_text(cJSON_GetObjectItemCaseSensitive(item, "name"));
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "value");
		const char *value = scalar_text(v);

		if (!name || !name[0] || strchr(name, '='))
			return socklb_fail(e, -EINVAL, "%s.env[%zu].name must be a variable name", where, n);
		if (!value && v && !cJSON_IsNull(v))
			return socklb_fail(e, -EINVAL, "%s.env[%zu].value must be a string", where, n);
		if (asprintf(&(*out)[n], "%s=%s", name, value ? value : "") < 0) {
			(*out)[n] = NULL;
			return -ENOMEM;
		}
		n++;
	}
	return 0;
}

static int exec_api_version(const cJSON *exec, const char *where, const char **out, struct socklb_err *e)
{
	int err = get_string(exec, "apiVersion", where, out, e);

	if (err)
		return err;
	if (!*out)
		return socklb_fail(e, -EINVAL, "%s.apiVersion is missing (%s or %s)", where, KUBE_EXEC_V1,
				   KUBE_EXEC_V1BETA1);
	if (strcmp(*out, KUBE_EXEC_V1) == 0 || strcmp(*out, KUBE_EXEC_V1BETA1) == 0)
		return 0;
	return socklb_fail(e, -EINVAL, "%s.apiVersion \"%s\" is not supported: %s or %s%s", where, *out, KUBE_EXEC_V1,
			   KUBE_EXEC_V1BETA1,
			   strcmp(*out, "client.authentication.k8s.io/v1alpha1") == 0
				   ? " (v1alpha1 was removed in Kubernetes 1.24: update the plugin)"
				   : "");
}

/* interactiveMode: a daemon has no terminal, so only a plugin that can do without one works. */
static int exec_interactive_mode(const cJSON *exec, const char *where, const char *api_version, struct socklb_err *e)
{
	const char *mode;
	int err = get_string(exec, "interactiveMode", where, &mode, e);

	if (err)
		return err;
	if (!mode && strcmp(api_version, KUBE_EXEC_V1) == 0)
		return socklb_fail(e, -EINVAL, "%s.interactiveMode is missing (%s requires it; Never or IfAvailable)",
				   where, KUBE_EXEC_V1);
	if (!mode || strcmp(mode, "Never") == 0 || strcmp(mode, "IfAvailable") == 0)
		return 0;
	if (strcmp(mode, "Always") == 0)
		return socklb_fail(e, -EINVAL,
				   "%s.interactiveMode is Always: the plugin needs a terminal, and a daemon has none "
				   "(configure it to work non-interactively, then set Never)",
				   where);
	return socklb_fail(e, -EINVAL, "%s.interactiveMode \"%s\" must be Never, IfAvailable or Always", where, mode);
}

/* The cluster's extension for exec plugins (client-go passes it as spec.cluster.config). */
static const cJSON *exec_extension(const cJSON *cluster)
{
	const cJSON *entry;

	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(cluster, "extensions")) {
		const char *name = scalar_text(cJSON_GetObjectItemCaseSensitive(entry, "name"));

		if (name && strcmp(name, "client.authentication.k8s.io/exec") == 0)
			return cJSON_GetObjectItemCaseSensitive(entry, "extension");
	}
	return NULL;
}

/* spec.cluster of KUBERNETES_EXEC_INFO, as client-go fills it for provideClusterInfo. */
static int add_cluster_info(cJSON *spec, const cJSON *cluster_obj, const struct kube_conn *c, const char *where,
			    struct socklb_err *e)
{
	cJSON *info = cJSON_AddObjectToObject(spec, "cluster");
	const cJSON *config = exec_extension(cluster_obj);
	struct kube_blob ca = c->ca;
	char *ca_file = NULL, *b64 = NULL;
	int err = 0;

	if (!info || !cJSON_AddStringToObject(info, "server", c->server))
		return -ENOMEM;
	if (c->ca_file) {
		err = socklb_file_read(c->ca_file, KUBE_FILE_MAX, &ca_file, &ca.len, e);
		if (err) {
			socklb_err_prefix(e, "%s: certificate-authority for provideClusterInfo", where);
			return err;
		}
		ca.data = ca_file;
	}
	if (ca.data) {
		b64 = kube_base64_encode(ca.data, ca.len);
		if (!b64 || !cJSON_AddStringToObject(info, "certificate-authority-data", b64))
			err = -ENOMEM;
	}
	if (!err && c->insecure && !cJSON_AddTrueToObject(info, "insecure-skip-tls-verify"))
		err = -ENOMEM;
	if (!err && c->proxy_url && !cJSON_AddStringToObject(info, "proxy-url", c->proxy_url))
		err = -ENOMEM;
	if (!err && c->tls_server_name && !cJSON_AddStringToObject(info, "tls-server-name", c->tls_server_name))
		err = -ENOMEM;
	if (!err && c->no_compression && !cJSON_AddTrueToObject(info, "disable-compression"))
		err = -ENOMEM;
	if (!err && config && !cJSON_AddItemToObject(info, "config", cJSON_Duplicate(config, true)))
		err = -ENOMEM;
	free(ca_file);
	free(b64);
	return err;
}

/* The ExecCredential a plugin finds in KUBERNETES_EXEC_INFO. */
static int exec_info(struct kube_exec_config *x, bool provide_cluster_info, const cJSON *cluster_obj,
		     const struct kube_conn *c, const char *where, struct socklb_err *e)
{
	cJSON *cred = cJSON_CreateObject(), *spec;
	int err = -ENOMEM;

	if (!cred || !cJSON_AddStringToObject(cred, "kind", "ExecCredential") ||
	    !cJSON_AddStringToObject(cred, "apiVersion", x->api_version) ||
	    !(spec = cJSON_AddObjectToObject(cred, "spec")) || !cJSON_AddFalseToObject(spec, "interactive"))
		goto out;
	if (provide_cluster_info) {
		err = add_cluster_info(spec, cluster_obj, c, where, e);
		if (err)
			goto out;
	}
	x->exec_info = cJSON_PrintUnformatted(cred);
	err = x->exec_info ? 0 : -ENOMEM;
out:
	cJSON_Delete(cred);
	return err;
}

static int parse_exec(const cJSON *exec, const char *where, const char *path, const cJSON *cluster_obj,
		      struct kube_conn *c, struct socklb_err *e)
{
	struct kube_exec_config *x = calloc(1, sizeof(*x));
	const char *api_version, *command, *hint;
	bool provide_cluster_info;
	char **args = NULL;
	size_t n = 0;
	int err;

	if (!x)
		return -ENOMEM;
	c->exec = x;
	err = exec_api_version(exec, where, &api_version, e);
	if (!err)
		err = get_string(exec, "command", where, &command, e);
	if (!err && !command)
		err = socklb_fail(e, -EINVAL, "%s.command is missing", where);
	if (!err)
		err = exec_interactive_mode(exec, where, api_version, e);
	if (!err)
		err = get_string(exec, "installHint", where, &hint, e);
	if (!err)
		err = get_bool(exec, "provideClusterInfo", where, &provide_cluster_info, e);
	if (!err)
		err = string_list(exec, "args", where, &args, e);
	if (!err)
		err = env_list(exec, where, &x->env, e);
	if (err)
		goto out;
	err = -ENOMEM;
	x->api_version = strdup(api_version);
	if (!x->api_version || (hint && !(x->install_hint = strdup(hint))))
		goto out;
	while (args[n])
		n++;
	x->argv = calloc(n + 2, sizeof(*x->argv));
	if (!x->argv)
		goto out;
	/* a bare name is looked up in PATH; a name with a '/' is a file, relative to the kubeconfig */
	if (strchr(command, '/'))
		err = resolve_path(command, path, &x->argv[0]);
	else
		err = (x->argv[0] = strdup(command)) ? 0 : -ENOMEM;
	if (err)
		goto out;
	memcpy(x->argv + 1, args, n * sizeof(*args));
	free(args);
	args = NULL;
	err = exec_info(x, provide_cluster_info, cluster_obj, c, where, e);
out:
	if (args) {
		for (size_t i = 0; args[i]; i++)
			free(args[i]);
		free(args);
	}
	return err;
}

static int parse_user(const cJSON *user, const char *where, const char *path, const cJSON *cluster_obj,
		      struct kube_conn *c, struct socklb_err *e)
{
	static const struct unsupported unsupported[] = {
		{ "auth-provider",
		  "its providers (gcp, azure, oidc) were removed from client-go in Kubernetes 1.26; "
		  "use the provider's exec credential plugin (e.g. gke-gcloud-auth-plugin, kubelogin)" },
		{ "username", "basic authentication was removed from Kubernetes in 1.19" },
		{ "password", "basic authentication was removed from Kubernetes in 1.19" },
		{ "as", "impersonation is not implemented: give this user the daemon's permissions" },
		{ "as-uid", "impersonation is not implemented: give this user the daemon's permissions" },
		{ "as-groups", "impersonation is not implemented: give this user the daemon's permissions" },
		{ "as-user-extra", "impersonation is not implemented: give this user the daemon's permissions" },
		{ NULL, NULL },
	};
	const cJSON *exec = cJSON_GetObjectItemCaseSensitive(user, "exec");
	const char *token, *token_file;
	bool has_cert, has_key;
	char exec_where[600];
	int err;

	err = refuse_unsupported(user, unsupported, where, e);
	if (!err)
		err = get_string(user, "token", where, &token, e);
	if (!err)
		err = get_string(user, "tokenFile", where, &token_file, e);
	if (!err)
		err = pem_field(user, "client-certificate", where, path, &c->cert_file, &c->cert, e);
	if (!err)
		err = pem_field(user, "client-key", where, path, &c->key_file, &c->key, e);
	if (err)
		return err;
	has_cert = c->cert_file || c->cert.data;
	has_key = c->key_file || c->key.data;
	if (has_cert != has_key)
		return socklb_fail(e, -EINVAL, "%s has %s but no %s", where,
				   has_cert ? "client-certificate" : "client-key",
				   has_cert ? "client-key(-data)" : "client-certificate(-data)");
	if (token && !(c->token = strdup(token)))
		return -ENOMEM;
	if (token_file) {
		err = resolve_file(token_file, path, where, "tokenFile", &c->token_file, e);
		if (err)
			return err;
	}
	if (exec && !cJSON_IsNull(exec) && !cJSON_IsObject(exec))
		return socklb_fail(e, -EINVAL, "%s.exec must be a mapping", where);
	if (cJSON_IsObject(exec) && (token || token_file || has_cert)) {
		/* what kubectl does: credentials given outright win over the plugin */
		pr_warn("%s.exec is not used: the user has a %s", where, has_cert ? "client certificate" : "token");
		return 0;
	}
	if (cJSON_IsObject(exec)) {
		snprintf(exec_where, sizeof(exec_where), "%s.exec", where);
		return parse_exec(exec, exec_where, path, cluster_obj, c, e);
	}
	if (!token && !token_file && !has_cert)
		return socklb_fail(e, -EINVAL, "%s has no token, tokenFile, client-certificate/client-key or exec",
				   where);
	return 0;
}

/* The context's name: --context, else current-context. */
static int context_name(const cJSON *root, const char *context, const char *path, const char **out,
			struct socklb_err *e)
{
	char where[300];
	int err;

	*out = context;
	if (context)
		return 0;
	snprintf(where, sizeof(where), "kubeconfig %s", path);
	err = get_string(root, "current-context", where, out, e);
	if (!err && !*out)
		err = socklb_fail(e, -EINVAL,
				  "kubeconfig %s: current-context is not set: choose a context with --context", path);
	return err;
}

/* The kubeconfig as a tree: JSON when it looks like JSON (kubectl -o json), else YAML. */
static cJSON *parse_document(const char *text, size_t len, const char *path, struct socklb_err *e)
{
	const char *start = text;
	char why[300];
	cJSON *root;

	while (start < text + len && (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r'))
		start++;
	if (start < text + len && *start == '{') {
		root = cJSON_ParseWithLength(text, len);
		if (!root) {
			socklb_fail(e, -EINVAL, "kubeconfig %s: invalid JSON at byte %td", path,
				    cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : (ptrdiff_t)0);
			return NULL;
		}
	} else {
		root = kube_yaml_parse(text, len, why, sizeof(why));
		if (!root) {
			socklb_fail(e, -EINVAL, "kubeconfig %s: %s", path, why);
			return NULL;
		}
	}
	if (!cJSON_IsObject(root)) {
		socklb_fail(e, -EINVAL, "kubeconfig %s: not a kubeconfig (a mapping of clusters, contexts and users)",
			    path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int kube_conn_parse_kubeconfig(const char *text, size_t len, const char *path, const char *context, struct kube_conn *c,
			       struct socklb_err *e)
{
	const cJSON *ctx, *cluster, *user;
	const char *name, *cluster_name, *user_name;
	char where[512];
	cJSON *root;
	int err = -EINVAL;

	memset(c, 0, sizeof(*c));
	socklb_err_clear(e);
	root = parse_document(text, len, path, e);
	if (!root)
		return socklb_err_fallback(e, -EINVAL, "kubeconfig %s: cannot parse it", path);
	err = context_name(root, context, path, &name, e);
	if (err)
		goto out;
	err = -EINVAL;
	snprintf(where, sizeof(where), "kubeconfig %s", path);
	ctx = find_named(root, "contexts", name, "context", where, context ? "--context" : "current-context", e);
	if (!ctx)
		goto out;
	snprintf(where, sizeof(where), "kubeconfig %s: contexts[\"%s\"].context", path, name);
	if (get_string(ctx, "cluster", where, &cluster_name, e) || get_string(ctx, "user", where, &user_name, e))
		goto out;
	if (!cluster_name || !user_name) {
		socklb_fail(e, -EINVAL, "%s.%s is missing", where, cluster_name ? "user" : "cluster");
		goto out;
	}
	snprintf(where, sizeof(where), "kubeconfig %s", path);
	cluster = find_named(root, "clusters", cluster_name, "cluster", where, "the context's cluster", e);
	user = cluster ? find_named(root, "users", user_name, "user", where, "the context's user", e) : NULL;
	if (!cluster || !user)
		goto out;

	snprintf(where, sizeof(where), "kubeconfig %s: clusters[\"%s\"].cluster", path, cluster_name);
	err = parse_cluster(cluster, where, path, c, e);
	if (err)
		goto out;
	snprintf(where, sizeof(where), "kubeconfig %s: users[\"%s\"].user", path, user_name);
	err = parse_user(user, where, path, cluster, c, e);
	if (err)
		goto out;
	if (asprintf(&c->origin, "kubeconfig %s (context %s)", path, name) < 0) {
		c->origin = NULL;
		err = -ENOMEM;
	}
out:
	cJSON_Delete(root);
	if (err)
		kube_conn_free(c);
	return socklb_err_fallback(e, err, "kubeconfig %s: %s", path, strerror(-err));
}

int kube_conn_from_kubeconfig(const char *path, const char *context, struct kube_conn *c, struct socklb_err *e)
{
	char *text;
	size_t len;
	int err = socklb_file_read(path, KUBE_FILE_MAX, &text, &len, e);

	memset(c, 0, sizeof(*c));
	if (err) {
		/* KUBECONFIG's a:b lists name no one file. */
		if (err == -ENOENT && strchr(path, ':'))
			socklb_err_prefix(e, "kubeconfig (one file: a KUBECONFIG-style list a:b is not merged)");
		else
			socklb_err_prefix(e, "kubeconfig");
		return err;
	}
	err = kube_conn_parse_kubeconfig(text, len, path, context, c, e);
	free(text);
	return err;
}

/* A file the service account must provide. */
static int sa_file(const char *sa_dir, const char *name, char **out, struct socklb_err *e)
{
	if (asprintf(out, "%s/%s", sa_dir, name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	if (access(*out, R_OK) == 0)
		return 0;
	return socklb_fail(e, socklb_errno(), "in-cluster config: service account file %s: %s", *out, strerror(errno));
}

int kube_conn_in_cluster(const char *sa_dir, const char *server_override, struct kube_conn *c, struct socklb_err *e)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *server = NULL;
	int err;

	memset(c, 0, sizeof(*c));
	socklb_err_clear(e);
	c->origin = strdup("in-cluster service account");
	if (!c->origin)
		return socklb_fail(e, -ENOMEM, "in-cluster config: out of memory");
	if (!server_override) {
		if (!host || !host[0] || !port || !port[0]) {
			err = socklb_fail(
				e, -EINVAL,
				"in-cluster config: %s is not set (not in a pod? use --kubeconfig or --api-server)",
				!host || !host[0] ? "KUBERNETES_SERVICE_HOST" : "KUBERNETES_SERVICE_PORT");
			goto out;
		}
		/* an IPv6 address needs brackets in a URL */
		if (asprintf(&server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
			server = NULL;
			err = -ENOMEM;
			goto out;
		}
	}
	err = kube_conn_set_server(c, server_override ? server_override : server, "in-cluster config", e);
	if (!err)
		err = sa_file(sa_dir, "token", &c->token_file, e);
	if (!err)
		err = sa_file(sa_dir, "ca.crt", &c->ca_file, e);
out:
	free(server);
	if (err)
		kube_conn_free(c);
	return socklb_err_fallback(e, err, "in-cluster config: %s", strerror(-err));
}

static void blob_free(struct kube_blob *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len); /* client keys */
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void strings_free(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static void exec_free(struct kube_exec_config *x)
{
	if (!x)
		return;
	free(x->api_version);
	strings_free(x->argv);
	strings_free(x->env);
	free(x->install_hint);
	free(x->exec_info);
	free(x);
}

void kube_conn_free(struct kube_conn *c)
{
	free(c->server);
	free(c->ca_file);
	blob_free(&c->ca);
	free(c->cert_file);
	blob_free(&c->cert);
	free(c->key_file);
	blob_free(&c->key);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	exec_free(c->exec);
	free(c->proxy_url);
	free(c->tls_server_name);
	free(c->origin);
	memset(c, 0, sizeof(*c));
}
