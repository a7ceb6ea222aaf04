// SPDX-License-Identifier: Apache-2.0
#include "frontend_scope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What the readable fields of the Service say, field by field as translation reads them. */
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

/* An address of the Service (of the cluster's families when filter): remembered, or it may be any. */
static void read_addr(struct scope_reader *r, const struct service_addr *a, bool filter)
{
	if (!a->valid) {
		r->any_addr = true;
		return;
	}
	if (filter && !(r->families & (unsigned int)family_bit(a->addr)))
		return;
	memcpy(r->addrs[r->n_addrs++], a->addr, sizeof(a->addr));
}

/* The ports of spec.ports (or, when the list cannot be read, port NULL: any port of any protocol). */
static void read_port(struct scope_reader *r, const struct service_port *port)
{
	bool any_node_port = !port || (port->flags & (SERVICE_PORT_NOT_OBJECT | SERVICE_PORT_BAD_NODE_PORT));
	int proto = port && !(port->flags & SERVICE_PORT_NOT_OBJECT) ? port->proto : -1;
	long num = port ? port->port : 0, node_port = port ? port->node_port : 0;

	/* SCTP and the like: translation skips the port, so it owns nothing. */
	if (proto == 0)
		return;
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

int frontend_scope_build(const struct k8s_service *svc, const struct node_view *node, struct frontend_scope *out)
{
	const struct service_addr *addrs = k8s_service_addrs(svc);
	const struct service_port *ports = k8s_service_ports(svc);
	struct scope_reader r = { .out = out, .node = node };
	bool load_balancer = svc->type != SERVICE_TYPE_NODE_PORT && svc->type != SERVICE_TYPE_CLUSTER_IP;

	memset(out, 0, sizeof(*out));
	if (svc->spec == SERVICE_SPEC_MISSING) {
		add_pattern(&r, NULL, 0, -1, 0);
		return r.err;
	}
	/* Headless or not allocated yet: whatever its type, translation would program nothing. */
	if (!svc->has_cluster_ip || svc->spec == SERVICE_SPEC_EXTERNAL_NAME)
		return 0;
	/* An unknown type may have been meant as NodePort or LoadBalancer. */
	r.node_ports = svc->type != SERVICE_TYPE_CLUSTER_IP;
	r.addrs = calloc(svc->n_addrs + 1, sizeof(*r.addrs));
	if (!r.addrs)
		return -ENOMEM;
	r.any_addr = svc->not_lists & SERVICE_CLUSTER_IPS_NOT_LIST;
	for (__u32 i = 0; i < svc->n_addrs; i++) {
		if (addrs[i].source == SERVICE_ADDR_CLUSTER)
			read_addr(&r, &addrs[i], false);
	}
	for (size_t i = 0; i < r.n_addrs; i++)
		r.families |= (unsigned int)family_bit(r.addrs[i]);
	if (r.any_addr)
		r.families = (1U << 4) | (1U << 6);
	if (svc->not_lists & SERVICE_EXTERNAL_IPS_NOT_LIST)
		r.any_addr = true;
	if (load_balancer && (svc->not_lists & SERVICE_INGRESS_NOT_LIST))
		r.any_addr = true;
	for (__u32 i = 0; i < svc->n_addrs; i++) {
		if (addrs[i].source == SERVICE_ADDR_EXTERNAL ||
		    (addrs[i].source == SERVICE_ADDR_INGRESS && load_balancer))
			read_addr(&r, &addrs[i], true);
	}
	if (svc->not_lists & SERVICE_PORTS_NOT_LIST)
		read_port(&r, NULL);
	for (__u32 i = 0; i < svc->n_ports; i++)
		read_port(&r, &ports[i]);
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
