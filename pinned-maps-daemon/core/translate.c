// SPDX-License-Identifier: Apache-2.0
#include "translate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_slice.h"
#include "invalid_object.h"
#include "log.h"

#define bad_service(svc, invalid, fmt, ...) \
	invalid_report(invalid, K8S_SERVICE, (svc)->obj.ns, (svc)->obj.name, fmt, ##__VA_ARGS__)

int frontend_cmp(const struct socklb_frontend *a, const struct socklb_frontend *b)
{
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

int endpoint_cmp(const struct socklb_endpoint *a, const struct socklb_endpoint *b)
{
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	if (c)
		return c;
	return (int)a->port - (int)b->port;
}

void frontend_format(const struct socklb_frontend *fe, char *buf, size_t len)
{
	char ep[SOCKLB_ENDPOINT_STRLEN];

	socklb_endpoint_format(fe->addr, fe->port, ep, sizeof(ep));
	snprintf(buf, len, "%s/%s", ep, socklb_proto_name(fe->proto));
}

static int family_of(const __be32 addr[4])
{
	return socklb_addr_is_v4(addr) ? 4 : 6;
}

void node_view_init(struct node_view *node, const struct k8s_node *node_obj)
{
	memset(node, 0, sizeof(*node));
	if (!node_obj)
		return;
	node->zone = node_obj->zone;
	node->n_addrs = node_obj->n_addrs;
	node->addrs = k8s_node_addrs(node_obj);
}

static void release_items(struct service_frontends *sf)
{
	for (size_t i = 0; i < sf->n; i++)
		free(sf->items[i].backends);
	free(sf->items);
	sf->items = NULL;
	sf->n = 0;
	sf->cap = 0;
}

void service_frontends_release(struct service_frontends *sf)
{
	release_items(sf);
	invalid_list_release(&sf->invalid);
}

/* 1: program it, 0: not ours to program (logged at debug), -EINVAL: malformed (logged). */
static int check_service(const struct k8s_service *svc, const struct translate_config *cfg,
			 struct invalid_list *invalid)
{
	const char *want = cfg->service_proxy_name, *proxy = svc->proxy_name;

	if (svc->headless)
		return 0;
	if (want && *want ? !proxy || strcmp(proxy, want) != 0 : proxy != NULL) {
		pr_debug("Service %s/%s: service-proxy-name \"%s\" is not ours", svc->obj.ns, svc->obj.name,
			 proxy ? proxy : "");
		return 0;
	}
	switch (svc->spec) {
	case SERVICE_SPEC_OK:
		return 1;
	case SERVICE_SPEC_MISSING:
	case SERVICE_SPEC_INVALID:
		return bad_service(svc, invalid, "%s", svc->fault);
	default:
		/* ExternalName, headless ("None") or not allocated yet: kube-proxy programs nothing. */
		return 0;
	}
}

/* A Local frontend without backends: does the Service have endpoints elsewhere (as kube-proxy counts it)? */
static int no_local_endpoints(const struct k8s_slice *const *slices, size_t n_slices, const struct backend_query *q,
			      bool *out)
{
	struct backend_query cluster = *q;
	struct socklb_endpoint *be = NULL;
	__u32 n = 0;

	cluster.policy = TRAFFIC_POLICY_CLUSTER;
	if (endpoint_slices_select(slices, n_slices, &cluster, &be, &n))
		return -ENOMEM;
	free(be);
	*out = n > 0;
	return 0;
}

static int add_frontend(struct service_frontends *out, const struct socklb_frontend *fe, __u32 affinity,
			const struct k8s_slice *const *slices, size_t n_slices, const struct backend_query *q)
{
	struct desired_frontend *d;

	/* Two sources naming the same address (an external IP that is also the LB IP): first wins. */
	for (size_t i = 0; i < out->n; i++) {
		if (frontend_cmp(&out->items[i].fe, fe) == 0)
			return 0;
	}
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 4;
		struct desired_frontend *items = realloc(out->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		out->items = items;
		out->cap = cap;
	}
	d = &out->items[out->n];
	memset(d, 0, sizeof(*d));
	d->fe = *fe;
	d->affinity_timeout = affinity;
	if (endpoint_slices_select(slices, n_slices, q, &d->backends, &d->n_backends))
		return -ENOMEM;
	out->n++;
	if (q->policy == TRAFFIC_POLICY_LOCAL && d->n_backends == 0)
		return no_local_endpoints(slices, n_slices, q, &d->no_local_endpoints);
	return 0;
}

/* What every port of one Service is translated against. */
struct port_context {
	const struct k8s_slice *const *slices;
	size_t n_slices;
	const struct node_view *node;
	const char *node_name;
	unsigned int families; /* bit 4 and/or bit 6: the families of its cluster IPs */
};

/*
 * An external IP or load-balancer IP becomes a frontend of the port.
 * kube-proxy runs one proxier per family and each only takes the addresses
 * of its family on services that have a cluster IP of that family: do the
 * same. Ingress status of a Service that is no longer a LoadBalancer is stale.
 */
static bool external_frontend(const struct k8s_service *svc, const struct service_addr *a, unsigned int families)
{
	if (a->source == SERVICE_ADDR_CLUSTER ||
	    (a->source == SERVICE_ADDR_INGRESS && svc->type != SERVICE_TYPE_LOAD_BALANCER))
		return false;
	return families & (1U << family_of(a->addr));
}

static int add_port_frontends(const struct k8s_service *svc, const struct service_port *port,
			      const struct port_context *ctx, struct service_frontends *out)
{
	const struct service_addr *addrs = k8s_service_addrs(svc);
	const struct node_view *node = ctx->node;
	struct backend_query q = { .port_name = port->name, .node_name = ctx->node_name, .zone = node->zone };
	struct socklb_frontend fe;
	int err = 0;

	/* SCTP and the like: valid, but the socket LB only translates TCP and UDP. */
	if (!port->proto)
		return 0;
	q.proto = port->proto;
	memset(&fe, 0, sizeof(fe));
	fe.proto = q.proto;
	fe.port = port->port;
	for (__u32 i = 0; i < svc->n_addrs && !err; i++) {
		if (addrs[i].source != SERVICE_ADDR_CLUSTER)
			continue;
		memcpy(fe.addr, addrs[i].addr, sizeof(fe.addr));
		q.family = family_of(fe.addr);
		q.policy = svc->local ? TRAFFIC_POLICY_LOCAL : TRAFFIC_POLICY_CLUSTER;
		err = add_frontend(out, &fe, svc->affinity_timeout, ctx->slices, ctx->n_slices, &q);
	}
	/*
	 * Traffic from pods to external addresses and node ports is "short-
	 * circuited" to the cluster-wide endpoints by kube-proxy, whatever the
	 * externalTrafficPolicy; a socket LB only ever sees pod traffic.
	 */
	q.policy = TRAFFIC_POLICY_CLUSTER;
	for (__u32 i = 0; i < svc->n_addrs && !err; i++) {
		if (!external_frontend(svc, &addrs[i], ctx->families))
			continue;
		memcpy(fe.addr, addrs[i].addr, sizeof(fe.addr));
		q.family = family_of(fe.addr);
		err = add_frontend(out, &fe, svc->affinity_timeout, ctx->slices, ctx->n_slices, &q);
	}
	if (svc->type == SERVICE_TYPE_CLUSTER_IP || port->node_port == 0)
		return err;
	fe.port = port->node_port;
	for (size_t a = 0; a < node->n_addrs && !err; a++) {
		memcpy(fe.addr, node->addrs[a], sizeof(fe.addr));
		q.family = family_of(fe.addr);
		if (ctx->families & (1U << q.family))
			err = add_frontend(out, &fe, svc->affinity_timeout, ctx->slices, ctx->n_slices, &q);
	}
	return err;
}

static int slice_cmp(const void *a, const void *b)
{
	const struct k8s_slice *x = *(const struct k8s_slice *const *)a, *y = *(const struct k8s_slice *const *)b;

	return strcmp(x->obj.name, y->obj.name);
}

/* Every slice, so that each bad one is named: -EINVAL when one is malformed. */
static int check_slices(const struct k8s_slice **sorted, size_t n, struct invalid_list *invalid)
{
	int err = 0;

	/* Slice order decides which copy of a duplicated endpoint wins: make it stable. */
	if (n > 1)
		qsort(sorted, n, sizeof(const struct k8s_slice *), slice_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct k8s_slice *s = sorted[i];

		if (!s->fault)
			continue;
		err = invalid_report(invalid, K8S_ENDPOINTSLICE, s->obj.ns, s->obj.name, "%s", s->fault);
		if (err == -ENOMEM)
			return err;
	}
	return err;
}

int translate_service(const struct k8s_service *svc, const struct k8s_slice *const *slices, size_t n_slices,
		      const struct node_view *node, const struct translate_config *cfg, struct service_frontends *out)
{
	const struct service_port *ports = k8s_service_ports(svc);
	const struct service_addr *addrs = k8s_service_addrs(svc);
	const struct k8s_slice **sorted = NULL;
	struct port_context ctx;
	int ret, slices_ret;

	memset(out, 0, sizeof(*out));
	ret = check_service(svc, cfg, &out->invalid);
	if (ret == 0 || ret == -ENOMEM)
		goto out;
	sorted = calloc(n_slices + 1, sizeof(const struct k8s_slice *));
	if (!sorted) {
		ret = -ENOMEM;
		goto out;
	}
	if (n_slices)
		memcpy(sorted, slices, n_slices * sizeof(const struct k8s_slice *));
	/* Every fault is named at once: the slices of a bad Service, and the ports of one with bad slices. */
	slices_ret = check_slices(sorted, n_slices, &out->invalid);
	if (ret < 0 || slices_ret == -ENOMEM) {
		ret = slices_ret == -ENOMEM ? -ENOMEM : ret;
		goto out;
	}
	/* Its first bad port, found when it was decoded: translation walks the ports after the slices. */
	if (svc->fault) {
		ret = bad_service(svc, &out->invalid, "%s", svc->fault);
		goto out;
	}
	ret = slices_ret;
	if (ret)
		goto out;
	ctx = (struct port_context){
		.slices = sorted, .n_slices = n_slices, .node = node, .node_name = cfg->node_name
	};
	for (__u32 i = 0; i < svc->n_addrs; i++) {
		if (addrs[i].source == SERVICE_ADDR_CLUSTER)
			ctx.families |= 1U << family_of(addrs[i].addr);
	}
	for (__u32 i = 0; i < svc->n_ports && !ret; i++)
		ret = add_port_frontends(svc, &ports[i], &ctx, out);
out:
	free(sorted);
	if (ret == -EINVAL) {
		release_items(out);
		return ret;
	}
	if (ret < 0) {
		service_frontends_release(out);
		return ret;
	}
	/* The desired state keeps the result as long as the Service stays: no room to spare. */
	if (out->n && out->n < out->cap) {
		struct desired_frontend *fit = realloc(out->items, out->n * sizeof(*fit));

		if (fit) {
			out->items = fit;
			out->cap = out->n;
		}
	}
	return 0;
}
