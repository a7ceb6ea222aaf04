// SPDX-License-Identifier: Apache-2.0
#include "translate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_slice.h"
#include "invalid_object.h"
#include "json_value.h"
#include "k8s_object.h"
#include "log.h"

#define bad_service(sp, fmt, ...) invalid_report((sp)->invalid, K8S_SERVICE, (sp)->obj, fmt, ##__VA_ARGS__)

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

void frontend_key(const struct socklb_frontend *fe, unsigned char key[FRONTEND_KEY_LEN])
{
	memcpy(key, fe->addr, 16);
	key[16] = (unsigned char)(fe->port >> 8);
	key[17] = (unsigned char)fe->port;
	key[18] = fe->proto;
}

static int family_of(const __be32 addr[4])
{
	return socklb_addr_is_v4(addr) ? 4 : 6;
}

int node_view_init(struct node_view *node, const cJSON *node_obj)
{
	const cJSON *addresses = k8s_field(k8s_field(node_obj, "status"), "addresses");
	const cJSON *a;

	memset(node, 0, sizeof(*node));
	if (!node_obj)
		return 0;
	node->zone = k8s_label(node_obj, K8S_LABEL_ZONE);
	if (!cJSON_IsArray(addresses))
		return 0;
	node->addrs = calloc(cJSON_GetArraySize(addresses) + 1, sizeof(*node->addrs));
	if (!node->addrs)
		return -ENOMEM;
	cJSON_ArrayForEach(a, addresses) {
		const char *type = k8s_string(a, "type");
		const char *value = k8s_string(a, "address");
		__be32 addr[4];
		bool dup = false;

		/* Hostname and DNS entries are names, not addresses a socket connects to. */
		if (!type || (strcmp(type, "InternalIP") != 0 && strcmp(type, "ExternalIP") != 0))
			continue;
		if (!value || socklb_addr_parse(value, addr) < 0) {
			pr_warn("Node %s: ignoring status.addresses entry of type %s: \"%s\" is not an IP address",
				k8s_name(node_obj), type, value ? value : "");
			continue;
		}
		for (size_t i = 0; i < node->n_addrs; i++)
			dup = dup || memcmp(node->addrs[i], addr, sizeof(addr)) == 0;
		if (!dup)
			memcpy(node->addrs[node->n_addrs++], addr, sizeof(addr));
	}
	return 0;
}

void node_view_release(struct node_view *node)
{
	free(node->addrs);
	memset(node, 0, sizeof(*node));
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

/* Everything a Service says about its frontends, validated once for all its ports. */
struct service_spec {
	const cJSON *obj;
	struct invalid_list *invalid; /* what is wrong with it goes here */
	const cJSON *ports;
	bool node_ports; /* type NodePort or LoadBalancer */
	enum traffic_policy internal_policy;
	__u32 affinity_timeout;
	unsigned int families; /* bit 4 and/or bit 6: the families of its cluster IPs */
	size_t n_cluster;
	size_t n_external; /* externalIPs then load-balancer ingress IPs */
	__be32 (*cluster)[4];
	__be32 (*external)[4];
};

static void service_spec_release(struct service_spec *sp)
{
	free(sp->cluster);
	free(sp->external);
}

static int parse_ip(const struct service_spec *sp, const char *field, size_t i, const char *value, __be32 addr[4])
{
	if (value && socklb_addr_parse(value, addr) == 0)
		return 0;
	return bad_service(sp, "%s[%zu] \"%s\" is not an IP address", field, i, value ? value : "");
}

static int parse_cluster_ips(const cJSON *spec, struct service_spec *sp)
{
	const cJSON *ips = k8s_field(spec, "clusterIPs");
	const char *ip = k8s_string(spec, "clusterIP");
	const cJSON *item;
	size_t i = 0;
	int err;

	if (ips && !cJSON_IsArray(ips))
		return bad_service(sp, "spec.clusterIPs is not a list");
	sp->cluster = calloc(cJSON_GetArraySize(ips) + 1, sizeof(*sp->cluster));
	if (!sp->cluster)
		return -ENOMEM;
	if (!ips || cJSON_GetArraySize(ips) == 0) {
		err = parse_ip(sp, "spec.clusterIP", 0, ip, sp->cluster[0]);
		if (err)
			return err;
		sp->n_cluster = 1;
	}
	cJSON_ArrayForEach(item, ips) {
		err = parse_ip(sp, "spec.clusterIPs", i++, cJSON_GetStringValue(item), sp->cluster[sp->n_cluster]);
		if (err)
			return err;
		sp->n_cluster++;
	}
	for (i = 0; i < sp->n_cluster; i++)
		sp->families |= 1U << family_of(sp->cluster[i]);
	return 0;
}

/*
 * externalIPs and load-balancer ingress IPs. kube-proxy runs one proxier per
 * family and each only takes the addresses of its family on services that
 * have a cluster IP of that family: do the same.
 */
static void add_external(struct service_spec *sp, const __be32 addr[4])
{
	if (sp->families & (1U << family_of(addr)))
		memcpy(sp->external[sp->n_external++], addr, sizeof(__be32[4]));
}

static int parse_external_ips(const cJSON *svc, const cJSON *spec, const char *type, struct service_spec *sp)
{
	const cJSON *ext = k8s_field(spec, "externalIPs");
	const cJSON *ingress = k8s_field(k8s_field(k8s_field(svc, "status"), "loadBalancer"), "ingress");
	const cJSON *item;
	size_t i = 0;
	__be32 addr[4];
	int err;

	if ((ext && !cJSON_IsArray(ext)) || (ingress && !cJSON_IsArray(ingress)))
		return bad_service(sp, "%s is not a list",
				   ext && !cJSON_IsArray(ext) ? "spec.externalIPs" : "status.loadBalancer.ingress");
	sp->external = calloc(cJSON_GetArraySize(ext) + cJSON_GetArraySize(ingress) + 1, sizeof(*sp->external));
	if (!sp->external)
		return -ENOMEM;
	cJSON_ArrayForEach(item, ext) {
		err = parse_ip(sp, "spec.externalIPs", i++, cJSON_GetStringValue(item), addr);
		if (err)
			return err;
		add_external(sp, addr);
	}
	/* Ingress status of a Service that is no longer a LoadBalancer is stale: ignore it. */
	if (strcmp(type, "LoadBalancer") != 0)
		return 0;
	i = 0;
	cJSON_ArrayForEach(item, ingress) {
		const char *ip = k8s_string(item, "ip");
		const char *mode = k8s_string(item, "ipMode");

		i++;
		/* Hostname-only ingress has nothing to program; ipMode Proxy means the LB must see the traffic. */
		if (!ip || (mode && strcmp(mode, "Proxy") == 0))
			continue;
		err = parse_ip(sp, "status.loadBalancer.ingress.ip", i - 1, ip, addr);
		if (err)
			return err;
		add_external(sp, addr);
	}
	return 0;
}

static int parse_affinity(const cJSON *spec, struct service_spec *sp)
{
	const char *affinity = k8s_string(spec, "sessionAffinity");
	const cJSON *timeout;
	long seconds = SOCKLB_DEFAULT_AFFINITY_TIMEOUT;

	if (!affinity || strcmp(affinity, "None") == 0)
		return 0;
	if (strcmp(affinity, "ClientIP") != 0)
		return bad_service(sp, "spec.sessionAffinity \"%s\" is neither None nor ClientIP", affinity);
	timeout = k8s_field(k8s_field(k8s_field(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds");
	/* The API server accepts 1 second to 1 day. */
	if (timeout && !json_int_in_range(timeout, 1, 86400, &seconds))
		return bad_service(sp, "spec.sessionAffinityConfig.clientIP.timeoutSeconds must be 1-86400");
	sp->affinity_timeout = (__u32)seconds;
	return 0;
}

/* 1: program it, 0: not ours to program (logged at debug), -EINVAL: malformed. */
static int parse_service(const cJSON *svc, const struct translate_config *cfg, struct service_spec *sp,
			 struct invalid_list *invalid)
{
	const char *proxy = k8s_label(svc, K8S_LABEL_SERVICE_PROXY_NAME);
	const char *want = cfg->service_proxy_name;
	const cJSON *spec = k8s_field(svc, "spec");
	const char *type, *cluster_ip, *itp;
	int err;

	memset(sp, 0, sizeof(*sp));
	sp->obj = svc;
	sp->invalid = invalid;
	if (k8s_label(svc, K8S_LABEL_HEADLESS))
		return 0;
	if (want && *want ? !proxy || strcmp(proxy, want) != 0 : proxy != NULL) {
		pr_debug("Service %s/%s: service-proxy-name \"%s\" is not ours", k8s_namespace(svc), k8s_name(svc),
			 proxy ? proxy : "");
		return 0;
	}
	if (!cJSON_IsObject(spec))
		return bad_service(sp, "spec is missing");
	type = k8s_string(spec, "type");
	if (!type)
		type = "ClusterIP";
	if (strcmp(type, "ExternalName") == 0)
		return 0;
	if (strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0)
		return bad_service(sp, "spec.type \"%s\" is unknown", type);
	sp->node_ports = strcmp(type, "ClusterIP") != 0;
	cluster_ip = k8s_string(spec, "clusterIP");
	/* Headless ("None") or not allocated yet: kube-proxy programs nothing. */
	if (!cluster_ip || !*cluster_ip || strcmp(cluster_ip, "None") == 0)
		return 0;
	itp = k8s_string(spec, "internalTrafficPolicy");
	if (itp && strcmp(itp, "Local") != 0 && strcmp(itp, "Cluster") != 0)
		return bad_service(sp, "spec.internalTrafficPolicy \"%s\" is neither Cluster nor Local", itp);
	sp->internal_policy = itp && strcmp(itp, "Local") == 0 ? TRAFFIC_POLICY_LOCAL : TRAFFIC_POLICY_CLUSTER;
	sp->ports = k8s_field(spec, "ports");
	if (sp->ports && !cJSON_IsArray(sp->ports))
		return bad_service(sp, "spec.ports is not a list");
	err = parse_affinity(spec, sp);
	if (!err)
		err = parse_cluster_ips(spec, sp);
	if (!err)
		err = parse_external_ips(svc, spec, type, sp);
	return err ? err : 1;
}

/* A Local frontend without backends: does the Service have endpoints elsewhere (as kube-proxy counts it)? */
static int no_local_endpoints(const struct parsed_slice *slices, size_t n_slices, const struct backend_query *q,
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
			const struct parsed_slice *slices, size_t n_slices, const struct backend_query *q)
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
	const struct parsed_slice *slices;
	size_t n_slices;
	const struct node_view *node;
	const char *node_name;
};

static int add_port_frontends(const struct service_spec *sp, const cJSON *port, size_t i,
			      const struct port_context *ctx, struct service_frontends *out)
{
	const struct parsed_slice *slices = ctx->slices;
	const struct node_view *node = ctx->node;
	size_t n_slices = ctx->n_slices;
	const char *name = k8s_string(port, "name");
	const char *proto = k8s_string(port, "protocol");
	struct backend_query q = { .port_name = name ? name : "", .node_name = ctx->node_name, .zone = node->zone };
	struct socklb_frontend fe;
	long num, node_port = 0;
	int ret, err = 0;

	if (!json_int_in_range(k8s_field(port, "port"), 1, 65535, &num))
		return bad_service(sp, "spec.ports[%zu].port is not a port number (1-65535)", i);
	if (k8s_field(port, "nodePort") && !json_int_in_range(k8s_field(port, "nodePort"), 0, 65535, &node_port))
		return bad_service(sp, "spec.ports[%zu].nodePort is not a port number", i);
	ret = socklb_proto_parse(proto ? proto : "TCP");
	if (ret < 0) {
		pr_debug("Service %s/%s: ignoring spec.ports[%zu] with protocol %s", k8s_namespace(sp->obj),
			 k8s_name(sp->obj), i, proto);
		return 0;
	}
	q.proto = (__u8)ret;
	memset(&fe, 0, sizeof(fe));
	fe.proto = q.proto;
	fe.port = (__u16)num;
	for (size_t c = 0; c < sp->n_cluster && !err; c++) {
		memcpy(fe.addr, sp->cluster[c], sizeof(fe.addr));
		q.family = family_of(fe.addr);
		q.policy = sp->internal_policy;
		err = add_frontend(out, &fe, sp->affinity_timeout, slices, n_slices, &q);
	}
	/*
	 * Traffic from pods to external addresses and node ports is "short-
	 * circuited" to the cluster-wide endpoints by kube-proxy, whatever the
	 * externalTrafficPolicy; a socket LB only ever sees pod traffic.
	 */
	q.policy = TRAFFIC_POLICY_CLUSTER;
	for (size_t e = 0; e < sp->n_external && !err; e++) {
		memcpy(fe.addr, sp->external[e], sizeof(fe.addr));
		q.family = family_of(fe.addr);
		err = add_frontend(out, &fe, sp->affinity_timeout, slices, n_slices, &q);
	}
	if (!sp->node_ports || node_port == 0)
		return err;
	fe.port = (__u16)node_port;
	for (size_t a = 0; a < node->n_addrs && !err; a++) {
		memcpy(fe.addr, node->addrs[a], sizeof(fe.addr));
		q.family = family_of(fe.addr);
		if (sp->families & (1U << q.family))
			err = add_frontend(out, &fe, sp->affinity_timeout, slices, n_slices, &q);
	}
	return err;
}

static int slice_cmp(const void *a, const void *b)
{
	const char *x = k8s_name(*(const cJSON *const *)a), *y = k8s_name(*(const cJSON *const *)b);

	return strcmp(x ? x : "", y ? y : "");
}

/* Every slice, so that each bad one is named: -EINVAL when one is malformed. */
static int parse_slices(const cJSON *const *slices, size_t n, const char *node_name, struct parsed_slice *out,
			struct invalid_list *invalid)
{
	const cJSON **sorted = calloc(n + 1, sizeof(const cJSON *));
	int err = 0;

	if (!sorted)
		return -ENOMEM;
	/* Slice order decides which copy of a duplicated endpoint wins: make it stable. */
	if (n) {
		memcpy(sorted, slices, n * sizeof(const cJSON *));
		qsort(sorted, n, sizeof(const cJSON *), slice_cmp);
	}
	for (size_t i = 0; i < n && err != -ENOMEM; i++) {
		int ret = endpoint_slice_parse(sorted[i], node_name, &out[i], invalid);

		if (ret)
			err = ret;
	}
	free(sorted);
	return err;
}

int translate_service(const cJSON *svc, const cJSON *const *slices, size_t n_slices, const struct node_view *node,
		      const struct translate_config *cfg, struct service_frontends *out)
{
	struct parsed_slice *parsed = NULL;
	struct port_context ctx;
	struct service_spec sp;
	const cJSON *port;
	size_t i = 0;
	int ret, slices_ret;

	memset(out, 0, sizeof(*out));
	ret = parse_service(svc, cfg, &sp, &out->invalid);
	if (ret == 0 || ret == -ENOMEM)
		goto out;
	parsed = calloc(n_slices + 1, sizeof(*parsed));
	if (!parsed) {
		ret = -ENOMEM;
		goto out;
	}
	/* Every fault is named at once: the slices of a bad Service, and the ports of one with bad slices. */
	slices_ret = parse_slices(slices, n_slices, cfg->node_name, parsed, &out->invalid);
	if (ret < 0 || slices_ret == -ENOMEM) {
		ret = slices_ret == -ENOMEM ? -ENOMEM : ret;
		goto out;
	}
	ret = 0;
	ctx = (struct port_context){
		.slices = parsed, .n_slices = slices_ret ? 0 : n_slices, .node = node, .node_name = cfg->node_name
	};
	cJSON_ArrayForEach(port, sp.ports) {
		if (ret)
			break;
		ret = add_port_frontends(&sp, port, i++, &ctx, out);
	}
	if (!ret)
		ret = slices_ret;
out:
	for (i = 0; parsed && i < n_slices; i++)
		endpoint_slice_release(&parsed[i]);
	free(parsed);
	service_spec_release(&sp);
	if (ret == -EINVAL) {
		release_items(out);
		return ret;
	}
	if (ret < 0) {
		service_frontends_release(out);
		return ret;
	}
	return 0;
}
