/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the API server is and how to authenticate to it: in-cluster (the
 * service account's token and CA), or a kubeconfig in YAML (as kubectl,
 * kubeadm, kind and the clouds write it) or JSON, and an explicit server URL
 * that overrides either (a socket LB must not need the kubernetes ClusterIP to
 * reach the API). The server's certificate is verified unless the kubeconfig
 * says insecure-skip-tls-verify (a loud warning).
 */
#ifndef SOCKLB_KUBE_CONFIG_H
#define SOCKLB_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* PEM bytes given inline (a kubeconfig "*-data" field, base64-decoded). */
struct kube_blob {
	char *data;
	size_t len;
};

/* users[].user.exec, resolved: kube_exec runs it, kube_token caches what it returns. */
struct kube_exec_config {
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	char **argv; /* command (relative to the kubeconfig's directory when it holds a '/'), args; NULL-ended */
	char **env; /* exec.env as "NAME=value", NULL-ended */
	char *install_hint; /* NULL: none */
	char *exec_info; /* KUBERNETES_EXEC_INFO: an ExecCredential with spec (and spec.cluster when asked) */
};

struct kube_conn {
	char *server; /* https://host:port[/prefix], no trailing '/' */
	char *ca_file; /* CA bundle path, or ... */
	struct kube_blob ca; /* ... inline; neither = the system CAs */
	char *cert_file; /* client certificate, path or inline */
	struct kube_blob cert;
	char *key_file; /* its key, path or inline */
	struct kube_blob key;
	char *token; /* a fixed bearer token, or ... */
	char *token_file; /* ... one re-read periodically (projected tokens rotate); wins over token */
	struct kube_exec_config *exec; /* a credential plugin, when the user has no token nor certificate */
	char *proxy_url; /* proxy-url; NULL: libcurl's default (the https_proxy environment) */
	char *tls_server_name; /* tls-server-name: the name sent as SNI and checked in the certificate; NULL: server's host */
	bool insecure; /* insecure-skip-tls-verify: the server's certificate is NOT verified */
	bool no_compression; /* disable-compression */
	char *origin; /* where this came from, for messages: "kubeconfig F (context C)" / "in-cluster" */
};

/*
 * Parse a kubeconfig held in memory: JSON when it starts with '{', else YAML.
 * path names it in errors and is the base of relative file names; context
 * NULL = its current-context. Errors (e) name the file, the context, cluster
 * or user and the field.
 */
int kube_conn_parse_kubeconfig(const char *text, size_t len, const char *path, const char *context, struct kube_conn *c,
			       struct socklb_err *e);
/* Read and parse the kubeconfig file at path (one file: KUBECONFIG-style a:b lists are not merged). */
int kube_conn_from_kubeconfig(const char *path, const char *context, struct kube_conn *c, struct socklb_err *e);
/*
 * In-cluster: sa_dir/token and sa_dir/ca.crt, the server from
 * KUBERNETES_SERVICE_HOST/PORT unless server_override is given.
 */
int kube_conn_in_cluster(const char *sa_dir, const char *server_override, struct kube_conn *c, struct socklb_err *e);
/* Replace the server URL (must be https://); what names where it comes from in errors. */
int kube_conn_set_server(struct kube_conn *c, const char *server, const char *what, struct socklb_err *e);
/* Decode standard base64 (whitespace ignored); -EINVAL when malformed. */
int kube_base64_decode(const char *in, struct kube_blob *out);
/* Standard base64 with padding (malloc'd), NULL when out of memory. */
char *kube_base64_encode(const void *data, size_t len);
void kube_conn_free(struct kube_conn *c);

#endif /* SOCKLB_KUBE_CONFIG_H */
