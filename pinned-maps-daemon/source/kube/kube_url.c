// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_object.h"
#include "kube_url.h"
#include "log.h"

const char *kube_resource_path(enum k8s_kind kind)
{
	switch (kind) {
	case K8S_SERVICE:
		return "/api/v1/services";
	case K8S_ENDPOINTSLICE:
		return "/apis/discovery.k8s.io/v1/endpointslices";
	case K8S_NAMESPACE:
		return "/api/v1/namespaces";
	case K8S_NODE:
		return "/api/v1/nodes";
	case K8S_KIND_COUNT:
		break;
	}
	return NULL;
}

bool kube_label_value_valid(const char *value)
{
	size_t len = strlen(value);

	if (len == 0)
		return true;
	if (len > 63 || !isalnum((unsigned char)value[0]) || !isalnum((unsigned char)value[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = value[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

bool kube_node_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 253 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (!(isdigit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int kube_selectors_build(enum k8s_kind kind, const char *service_proxy_name, const char *node_name,
			 struct kube_selectors *sel)
{
	int n = 0;

	memset(sel, 0, sizeof(*sel));
	switch (kind) {
	case K8S_SERVICE:
		if (!service_proxy_name || !service_proxy_name[0]) {
			n = asprintf(&sel->label, "!%s,!%s", K8S_LABEL_HEADLESS, K8S_LABEL_SERVICE_PROXY_NAME);
		} else {
			if (!kube_label_value_valid(service_proxy_name)) {
				pr_err("service proxy name \"%s\" is not a valid label value "
				       "(at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)",
				       service_proxy_name);
				return -EINVAL;
			}
			n = asprintf(&sel->label, "!%s,%s=%s", K8S_LABEL_HEADLESS, K8S_LABEL_SERVICE_PROXY_NAME,
				     service_proxy_name);
		}
		break;
	case K8S_ENDPOINTSLICE:
		n = asprintf(&sel->label, "!%s", K8S_LABEL_HEADLESS);
		break;
	case K8S_NAMESPACE:
		break;
	case K8S_NODE:
		if (!node_name || !kube_node_name_valid(node_name)) {
			pr_err("node name \"%s\" is not a valid Kubernetes node name (lowercase RFC 1123 subdomain)",
			       node_name ? node_name : "");
			return -EINVAL;
		}
		n = asprintf(&sel->field, "metadata.name=%s", node_name);
		break;
	case K8S_KIND_COUNT:
		return -EINVAL;
	}
	if (n < 0) {
		memset(sel, 0, sizeof(*sel));
		return -ENOMEM;
	}
	return 0;
}

void kube_selectors_free(struct kube_selectors *sel)
{
	free(sel->label);
	free(sel->field);
	memset(sel, 0, sizeof(*sel));
}

/* Append "&name=escaped(value)" to *url (reallocated); value NULL = nothing. */
static int append_param(char **url, const char *name, const char *value)
{
	char *escaped;
	char *joined;
	int n;

	if (!value)
		return 0;
	/* RFC 3986: everything but the unreserved characters percent-encoded. */
	escaped = curl_easy_escape(NULL, value, 0);
	if (!escaped)
		return -ENOMEM;
	n = asprintf(&joined, "%s&%s=%s", *url, name, escaped);
	curl_free(escaped);
	if (n < 0)
		return -ENOMEM;
	free(*url);
	*url = joined;
	return 0;
}

/* The server URL without trailing '/', so a path prefix (an API proxy) is kept. */
static int server_len(const char *server)
{
	size_t len = strlen(server);

	while (len && server[len - 1] == '/')
		len--;
	return (int)len;
}

static char *with_selectors(char *url, const struct kube_selectors *sel)
{
	if (!url)
		return NULL;
	if (append_param(&url, "labelSelector", sel->label) || append_param(&url, "fieldSelector", sel->field)) {
		free(url);
		return NULL;
	}
	return url;
}

char *kube_list_url(const char *server, enum k8s_kind kind, const struct kube_selectors *sel, unsigned int limit,
		    const char *continue_token)
{
	char *url;

	if (asprintf(&url, "%.*s%s?limit=%u", server_len(server), server, kube_resource_path(kind), limit) < 0)
		return NULL;
	if (append_param(&url, "continue", continue_token)) {
		free(url);
		return NULL;
	}
	return with_selectors(url, sel);
}

char *kube_watch_url(const char *server, enum k8s_kind kind, const struct kube_selectors *sel,
		     const char *resource_version, unsigned int timeout_s)
{
	char *url;

	if (asprintf(&url, "%.*s%s?watch=true&allowWatchBookmarks=true&timeoutSeconds=%u", server_len(server), server,
		     kube_resource_path(kind), timeout_s) < 0)
		return NULL;
	if (append_param(&url, "resourceVersion", resource_version)) {
		free(url);
		return NULL;
	}
	return with_selectors(url, sel);
}
