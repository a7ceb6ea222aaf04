/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the API server is and how to authenticate to it: in-cluster (the
 * service account's token and CA), or a JSON kubeconfig as
 * `kubectl config view --raw --flatten -o json` prints it, and an explicit
 * server URL that overrides either (a socket LB must not need the kubernetes
 * ClusterIP to reach the API). TLS is always verified.
 */
#ifndef SOCKLB_KUBE_CONFIG_H
#define SOCKLB_KUBE_CONFIG_H

#include <stddef.h>

/* PEM bytes given inline (a kubeconfig "*-data" field, base64-decoded). */
struct kube_blob {
	char *data;
	size_t len;
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
	char *origin; /* where this came from, for messages: "kubeconfig F (context C)" / "in-cluster" */
};

/*
 * Parse a JSON kubeconfig held in memory; path names it in errors and is the
 * base of relative file names. Errors (logged) name the missing or bad field.
 */
int kube_conn_from_kubeconfig_json(const char *json, const char *path, struct kube_conn *c);
/* Read and parse the kubeconfig file at path. */
int kube_conn_from_kubeconfig(const char *path, struct kube_conn *c);
/*
 * In-cluster: sa_dir/token and sa_dir/ca.crt, the server from
 * KUBERNETES_SERVICE_HOST/PORT unless server_override is given.
 */
int kube_conn_in_cluster(const char *sa_dir, const char *server_override, struct kube_conn *c);
/* Replace the server URL (must be https://). */
int kube_conn_set_server(struct kube_conn *c, const char *server, const char *what);
/* Decode standard base64 (whitespace ignored); -EINVAL when malformed. */
int kube_base64_decode(const char *in, struct kube_blob *out);
void kube_conn_free(struct kube_conn *c);

#endif /* SOCKLB_KUBE_CONFIG_H */
