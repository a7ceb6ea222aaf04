// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kube_config.h"
#include "log.h"

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

int kube_conn_set_server(struct kube_conn *c, const char *server, const char *what)
{
	size_t len = strlen(server);
	char *copy;

	if (strncasecmp(server, "https://", 8) != 0 || len == 8) {
		pr_err("%s: server \"%s\" must be an https:// URL (TLS is always verified)", what, server);
		return -EINVAL;
	}
	while (len > 8 && server[len - 1] == '/')
		len--;
	if (len == 8) {
		pr_err("%s: server \"%s\" names no host", what, server);
		return -EINVAL;
	}
	copy = strndup(server, len);
	if (!copy)
		return -ENOMEM;
	free(c->server);
	c->server = copy;
	return 0;
}

/* A string member: 0 and *out = NULL when absent, -EINVAL (logged) when not a string. */
static int get_string(const cJSON *obj, const char *key, const char *where, const char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item)) {
		pr_err("%s.%s must be a string", where, key);
		return -EINVAL;
	}
	*out = item->valuestring[0] ? item->valuestring : NULL;
	return 0;
}

/* The "inner" object of the entry of root[list] named name, e.g. contexts[name].context. */
static const cJSON *find_named(const cJSON *root, const char *list, const char *name, const char *inner,
			       const char *where, const char *because)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, list);
	const cJSON *entry;

	cJSON_ArrayForEach(entry, entries) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(entry, "name");
		const cJSON *obj;

		if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
			continue;
		obj = cJSON_GetObjectItemCaseSensitive(entry, inner);
		if (!cJSON_IsObject(obj)) {
			pr_err("%s: %s[\"%s\"].%s is missing", where, list, name, inner);
			return NULL;
		}
		return obj;
	}
	pr_err("%s: %s has no entry named \"%s\" (%s)", where, list, name, because);
	return NULL;
}

/* A file named in the kubeconfig: relative names are relative to the kubeconfig's directory. */
static int resolve_file(const char *value, const char *kubeconfig, const char *where, const char *field, char **out)
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
	if (access(*out, R_OK) != 0) {
		n = -errno;
		pr_err("%s.%s: %s: %s", where, field, *out, strerror(-n));
		free(*out);
		*out = NULL;
		return n;
	}
	return 0;
}

/*
 * One credential or CA given either as "<field>-data" (inline base64 PEM) or
 * "<field>" (a file); the inline form wins, as in kubectl.
 */
static int pem_field(const cJSON *obj, const char *field, const char *where, const char *kubeconfig, char **file,
		     struct kube_blob *blob)
{
	char data_field[64];
	const char *data, *path;
	int err;

	snprintf(data_field, sizeof(data_field), "%s-data", field);
	err = get_string(obj, data_field, where, &data);
	if (!err)
		err = get_string(obj, field, where, &path);
	if (err)
		return err;
	if (data) {
		err = kube_base64_decode(data, blob);
		if (err == -EINVAL)
			pr_err("%s.%s is not valid base64", where, data_field);
		return err;
	}
	if (path)
		return resolve_file(path, kubeconfig, where, field, file);
	return 0;
}

static int parse_cluster(const cJSON *cluster, const char *where, const char *path, struct kube_conn *c)
{
	const cJSON *insecure = cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify");
	const char *server;
	int err;

	err = get_string(cluster, "server", where, &server);
	if (err)
		return err;
	if (!server) {
		pr_err("%s.server is missing", where);
		return -EINVAL;
	}
	err = kube_conn_set_server(c, server, where);
	if (err)
		return err;
	if (cJSON_IsTrue(insecure))
		pr_warn("%s.insecure-skip-tls-verify is ignored: the API server's certificate is always verified",
			where);
	return pem_field(cluster, "certificate-authority", where, path, &c->ca_file, &c->ca);
}

static int parse_user(const cJSON *user, const char *where, const char *path, struct kube_conn *c)
{
	const char *token, *token_file;
	bool has_cert, has_key;
	int err;

	err = get_string(user, "token", where, &token);
	if (!err)
		err = get_string(user, "tokenFile", where, &token_file);
	if (!err)
		err = pem_field(user, "client-certificate", where, path, &c->cert_file, &c->cert);
	if (!err)
		err = pem_field(user, "client-key", where, path, &c->key_file, &c->key);
	if (err)
		return err;
	has_cert = c->cert_file || c->cert.data;
	has_key = c->key_file || c->key.data;
	if (has_cert != has_key) {
		pr_err("%s has %s but no %s", where, has_cert ? "client-certificate" : "client-key",
		       has_cert ? "client-key(-data)" : "client-certificate(-data)");
		return -EINVAL;
	}
	if (token && !(c->token = strdup(token)))
		return -ENOMEM;
	if (token_file) {
		err = resolve_file(token_file, path, where, "tokenFile", &c->token_file);
		if (err)
			return err;
	}
	if (!token && !token_file && !has_cert) {
		pr_err("%s has no token, tokenFile or client-certificate/client-key "
		       "(exec, auth-provider and basic auth are not supported)",
		       where);
		return -EINVAL;
	}
	return 0;
}

int kube_conn_from_kubeconfig_json(const char *json, const char *path, struct kube_conn *c)
{
	const cJSON *context, *cluster, *user;
	const char *current, *cluster_name, *user_name;
	char where[512];
	cJSON *root;
	int err = -EINVAL;

	memset(c, 0, sizeof(*c));
	root = cJSON_Parse(json);
	if (!root || !cJSON_IsObject(root)) {
		pr_err("kubeconfig %s: not a JSON object (convert it with `kubectl config view --raw --flatten -o "
		       "json`)",
		       path);
		goto out;
	}
	snprintf(where, sizeof(where), "kubeconfig %s", path);
	if (get_string(root, "current-context", where, &current))
		goto out;
	if (!current) {
		pr_err("kubeconfig %s: current-context is missing", path);
		goto out;
	}
	context = find_named(root, "contexts", current, "context", where, "current-context");
	if (!context)
		goto out;
	snprintf(where, sizeof(where), "kubeconfig %s: contexts[\"%s\"].context", path, current);
	if (get_string(context, "cluster", where, &cluster_name) || get_string(context, "user", where, &user_name))
		goto out;
	if (!cluster_name || !user_name) {
		pr_err("%s.%s is missing", where, cluster_name ? "user" : "cluster");
		goto out;
	}
	snprintf(where, sizeof(where), "kubeconfig %s", path);
	cluster = find_named(root, "clusters", cluster_name, "cluster", where, "the current context's cluster");
	user = find_named(root, "users", user_name, "user", where, "the current context's user");
	if (!cluster || !user)
		goto out;

	snprintf(where, sizeof(where), "kubeconfig %s: clusters[\"%s\"].cluster", path, cluster_name);
	err = parse_cluster(cluster, where, path, c);
	if (err)
		goto out;
	snprintf(where, sizeof(where), "kubeconfig %s: users[\"%s\"].user", path, user_name);
	err = parse_user(user, where, path, c);
	if (err)
		goto out;
	if (asprintf(&c->origin, "kubeconfig %s (context %s)", path, current) < 0) {
		c->origin = NULL;
		err = -ENOMEM;
	}
out:
	cJSON_Delete(root);
	if (err)
		kube_conn_free(c);
	return err;
}

static char *read_file(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		*err = -errno;
		return NULL;
	}
	if (getdelim(&buf, &len, '\0', f) < 0 && !feof(f)) {
		*err = -errno;
		free(buf);
		buf = NULL;
	} else if (!buf) {
		buf = strdup("");
		*err = buf ? 0 : -ENOMEM;
	}
	fclose(f);
	return buf;
}

int kube_conn_from_kubeconfig(const char *path, struct kube_conn *c)
{
	int err = 0;
	char *json = read_file(path, &err);

	memset(c, 0, sizeof(*c));
	if (!json) {
		pr_err("kubeconfig %s: %s", path, strerror(-err));
		return err;
	}
	err = kube_conn_from_kubeconfig_json(json, path, c);
	free(json);
	return err;
}

/* A file the service account must provide. */
static int sa_file(const char *sa_dir, const char *name, char **out)
{
	int err;

	if (asprintf(out, "%s/%s", sa_dir, name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	if (access(*out, R_OK) == 0)
		return 0;
	err = -errno;
	pr_err("in-cluster config: service account file %s: %s", *out, strerror(-err));
	return err;
}

int kube_conn_in_cluster(const char *sa_dir, const char *server_override, struct kube_conn *c)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *server = NULL;
	int err;

	memset(c, 0, sizeof(*c));
	c->origin = strdup("in-cluster service account");
	if (!c->origin)
		return -ENOMEM;
	if (!server_override) {
		if (!host || !host[0] || !port || !port[0]) {
			pr_err("in-cluster config: %s is not set (not in a pod? use --kubeconfig or --api-server)",
			       !host || !host[0] ? "KUBERNETES_SERVICE_HOST" : "KUBERNETES_SERVICE_PORT");
			err = -EINVAL;
			goto out;
		}
		/* an IPv6 address needs brackets in a URL */
		if (asprintf(&server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
			server = NULL;
			err = -ENOMEM;
			goto out;
		}
	}
	err = kube_conn_set_server(c, server_override ? server_override : server, "in-cluster config");
	if (!err)
		err = sa_file(sa_dir, "token", &c->token_file);
	if (!err)
		err = sa_file(sa_dir, "ca.crt", &c->ca_file);
out:
	free(server);
	if (err)
		kube_conn_free(c);
	return err;
}

static void blob_free(struct kube_blob *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len); /* client keys */
	free(b->data);
	b->data = NULL;
	b->len = 0;
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
	free(c->origin);
	memset(c, 0, sizeof(*c));
}
