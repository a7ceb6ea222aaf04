// SPDX-License-Identifier: Apache-2.0
#include "frontend_scope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json_value.h"
#include "k8s_object.h"

/* What the readable fields of the Service say, field by field as translate.c reads them. */
struct scope_reader {
	struct frontend_scope *out;
	const struct node_view *node;
	__be32 (*addrs)[4]; /* cluster, external and load-balancer IPs that parse */
	size_t n_addrs;
	bool any_addr; /* one of them does not parse: it may be any address */
	unsigned int families; /* of the cluster IPs (bit 4, bit 6); both when one does not parse */
	bool node_ports; /* NodePort or LoadBalancer, or a type that is unknown */
	int err;
};

static int family_bit(const __be32 addr[4])
{
	return 1 << (socklb_addr_is_v4(addr) ? 4 : 6);
}

static void add_pattern(struct scope_reader *r, const __be32 *addr, long port, int proto, unsigned int any)
{
	struct frontend_scope *s = r->out;
	struct frontend_pattern *p;

	if (r->err)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct frontend_pattern *items = realloc(s->items, cap * sizeof(*items));

		if (!items) {
			r->err = -ENOMEM;
			return;
		}
		s->items = items;
		s->cap = cap;
	}
	p = &s->items[s->n++];
	memset(p, 0, sizeof(*p));
	p->any = any;
	if (addr)
		memcpy(p->fe.addr, addr, sizeof(p->fe.addr));
	else
		p->any |= SCOPE_ANY_ADDR;
	if (port > 0)
		p->fe.port = (__u16)port;
	else
		p->any |= SCOPE_ANY_PORT;
	if (proto >= 0)
		p->fe.proto = (__u8)proto;
	else
		p->any |= SCOPE_ANY_PROTO;
}

/* value must be an address (of the cluster's families when filter): remember it, or that it may be any. */
static void read_addr(struct scope_reader *r, const char *value, bool filter)
{
	__be32 addr[4];

	if (!value || socklb_addr_parse(value, addr) < 0) {
		r->any_addr = true;
		return;
	}
	if (filter && !(r->families & (unsigned int)family_bit(addr)))
		return;
	memcpy(r->addrs[r->n_addrs++], addr, sizeof(addr));
}

static void read_cluster_ips(struct scope_reader *r, const cJSON *spec)
{
	const cJSON *ips = k8s_field(spec, "clusterIPs");
	const cJSON *item;

	if (ips && !cJSON_IsArray(ips)) {
		r->any_addr = true;
	} else if (cJSON_GetArraySize(ips) > 0) {
		cJSON_ArrayForEach(item, ips)
			read_addr(r, cJSON_GetStringValue(item), false);
	} else {
		read_addr(r, k8s_string(spec, "clusterIP"), false);
	}
	for (size_t i = 0; i < r->n_addrs; i++)
		r->families |= (unsigned int)family_bit(r->addrs[i]);
	if (r->any_addr)
		r->families = (1U << 4) | (1U << 6);
}

static void read_external_ips(struct scope_reader *r, const cJSON *svc, const cJSON *spec, bool load_balancer)
{
	const cJSON *ext = k8s_field(spec, "externalIPs");
	const cJSON *ingress = k8s_field(k8s_field(k8s_field(svc, "status"), "loadBalancer"), "ingress");
	const cJSON *item;

	if (ext && !cJSON_IsArray(ext)) {
		r->any_addr = true;
		ext = NULL;
	}
	cJSON_ArrayForEach(item, ext)
		read_addr(r, cJSON_GetStringValue(item), true);
	if (!load_balancer)
		return;
	if (ingress && !cJSON_IsArray(ingress)) {
		r->any_addr = true;
		ingress = NULL;
	}
	cJSON_ArrayForEach(item, ingress) {
		const char *ip = k8s_string(item, "ip");
		const char *mode = k8s_string(item, "ipMode");

		if (ip && !(mode && strcmp(mode, "Proxy") == 0))
			read_addr(r, ip, true);
	}
}

/* One entry of spec.ports (or, when the list cannot be read, port NULL: any port of any protocol). */
static void read_port(struct scope_reader *r, const cJSON *port)
{
	const char *name = k8s_string(port, "protocol");
	const cJSON *node_port_field = k8s_field(port, "nodePort");
	long num = 0, node_port = 0;
	int proto = -1;
	bool any_node_port = !port;

	if (cJSON_IsObject(port)) {
		proto = socklb_proto_parse(name ? name : "TCP");
		/* SCTP and the like: translation skips the port, so it owns nothing. */
		if (proto < 0)
			return;
		if (!json_int_in_range(k8s_field(port, "port"), 1, 65535, &num))
			num = 0;
		if (node_port_field && !json_int_in_range(node_port_field, 0, 65535, &node_port))
			any_node_port = true;
	} else {
		any_node_port = true;
	}
	for (size_t i = 0; i < r->n_addrs; i++)
		add_pattern(r, r->addrs[i], num, proto, 0);
	if (r->any_addr)
		add_pattern(r, NULL, num, proto, 0);
	if (!r->node_ports || (!node_port && !any_node_port))
		return;
	for (size_t i = 0; i < r->node->n_addrs; i++) {
		if (r->families & (unsigned int)family_bit(r->node->addrs[i]))
			add_pattern(r, r->node->addrs[i], any_node_port ? 0 : node_port, proto, 0);
	}
}

int frontend_scope_build(const cJSON *svc, const struct node_view *node, struct frontend_scope *out)
{
	const cJSON *spec = k8s_field(svc, "spec");
	const cJSON *ports = k8s_field(spec, "ports");
	struct scope_reader r = { .out = out, .node = node };
	const char *type, *cluster_ip;
	const cJSON *port;
	int n_addrs;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(spec)) {
		add_pattern(&r, NULL, 0, -1, 0);
		return r.err;
	}
	type = k8s_string(spec, "type");
	if (!type)
		type = "ClusterIP";
	cluster_ip = k8s_string(spec, "clusterIP");
	/* Headless or not allocated yet: whatever its type, translation would program nothing. */
	if (!cluster_ip || !*cluster_ip || strcmp(cluster_ip, "None") == 0)
		return 0;
	/* An unknown type may have been meant as NodePort or LoadBalancer. */
	r.node_ports = strcmp(type, "ClusterIP") != 0;
	/* Room for every address field's entries, and the one clusterIP. */
	n_addrs = cJSON_GetArraySize(k8s_field(spec, "clusterIPs")) +
		  cJSON_GetArraySize(k8s_field(spec, "externalIPs")) +
		  cJSON_GetArraySize(k8s_field(k8s_field(k8s_field(svc, "status"), "loadBalancer"), "ingress")) + 1;
	r.addrs = calloc((size_t)n_addrs, sizeof(*r.addrs));
	if (!r.addrs)
		return -ENOMEM;
	read_cluster_ips(&r, spec);
	read_external_ips(&r, svc, spec, strcmp(type, "NodePort") != 0 && strcmp(type, "ClusterIP") != 0);
	if (ports && !cJSON_IsArray(ports)) {
		read_port(&r, NULL);
		ports = NULL;
	}
	cJSON_ArrayForEach(port, ports)
		read_port(&r, port);
	free(r.addrs);
	if (r.err)
		frontend_scope_release(out);
	return r.err;
}

bool frontend_scope_has(const struct frontend_scope *s, const struct socklb_frontend *fe)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct frontend_pattern *p = &s->items[i];

		if ((p->any & SCOPE_ANY_ADDR || memcmp(p->fe.addr, fe->addr, sizeof(fe->addr)) == 0) &&
		    (p->any & SCOPE_ANY_PORT || p->fe.port == fe->port) &&
		    (p->any & SCOPE_ANY_PROTO || p->fe.proto == fe->proto))
			return true;
	}
	return false;
}

void frontend_scope_release(struct frontend_scope *s)
{
	free(s->items);
	memset(s, 0, sizeof(*s));
}
