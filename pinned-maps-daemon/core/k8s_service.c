// SPDX-License-Identifier: Apache-2.0
#include "k8s_service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "invalid_object.h"
#include "k8s_decode_impl.h"
#include "lbmap.h"
#include "log.h"
#include "translate.h"

const struct service_port *k8s_service_ports(const struct k8s_service *svc)
{
	return (const struct service_port *)((const char *)svc + align8(sizeof(*svc)));
}

const struct service_addr *k8s_service_addrs(const struct k8s_service *svc)
{
	return (const struct service_addr *)(k8s_service_ports(svc) + svc->n_ports);
}

/* ---- decoding ------------------------------------------------------------------ */

/* What fits in a message: the why of an invalid object is that long at most. */
#define RAW_LEN INVALID_WHY_LEN

/* A list of addresses as read: its entries, and the first that is not an address (for the message). */
struct addr_list {
	bool present; /* there and not null */
	bool not_list;
	struct scratch entries; /* struct service_addr */
	long first_bad; /* index, -1 when every entry is an address */
	char bad[RAW_LEN]; /* its text ("" when not a string) */
};

/* A string field as read: absent (or not a string, which the API's readers took as absent), or its text. */
struct text_field {
	bool present;
	char text[RAW_LEN];
};

enum service_seen {
	SEEN_SPEC = 1u << 0,
	SEEN_STATUS = 1u << 1,
	SEEN_PROXY_NAME = 1u << 2,
	SEEN_HEADLESS = 1u << 3,
	SEEN_TYPE = 1u << 4,
	SEEN_CLUSTER_IP = 1u << 5,
	SEEN_CLUSTER_IPS = 1u << 6,
	SEEN_EXTERNAL_IPS = 1u << 7,
	SEEN_ITP = 1u << 8,
	SEEN_AFFINITY = 1u << 9,
	SEEN_AFFINITY_CONFIG = 1u << 10,
	SEEN_PORTS = 1u << 11,
	SEEN_LOAD_BALANCER = 1u << 12,
	SEEN_INGRESS = 1u << 13,
};

struct service_draft {
	unsigned int seen;
	const char *proxy_name;
	bool headless;
	bool spec_object;
	struct text_field type;
	struct text_field cluster_ip;
	__be32 cluster_ip_addr[4];
	bool cluster_ip_valid;
	struct text_field itp;
	struct text_field affinity;
	bool timeout_present; /* sessionAffinityConfig.clientIP.timeoutSeconds, there and not null */
	bool timeout_ok;
	long timeout;
	bool ports_not_list;
	struct scratch ports; /* struct service_port */
	long first_bad_port; /* the first port translation refuses, -1 when none */
	bool first_bad_port_node_port; /* refused for its nodePort (its port is fine) */
	struct addr_list cluster_ips;
	struct addr_list external_ips;
	struct addr_list ingress; /* the ingress entries with an ip, not ipMode Proxy */
};

static void addr_list_reset(struct addr_list *l)
{
	struct scratch entries = l->entries;

	memset(l, 0, sizeof(*l));
	entries.n = 0;
	l->entries = entries;
	l->first_bad = -1;
}

static void service_release(void *draft)
{
	struct service_draft *d = draft;
	struct service_port *ports = d->ports.items;

	intern_put(d->proxy_name);
	d->proxy_name = NULL;
	for (size_t i = 0; i < d->ports.n; i++)
		intern_put(ports[i].name);
	d->ports.n = 0;
}

static void service_begin(void *draft)
{
	struct service_draft *d = draft;
	struct scratch ports = d->ports;
	struct addr_list lists[3] = { d->cluster_ips, d->external_ips, d->ingress };

	service_release(d);
	memset(d, 0, sizeof(*d));
	d->ports = ports;
	d->cluster_ips = lists[0];
	d->external_ips = lists[1];
	d->ingress = lists[2];
	addr_list_reset(&d->cluster_ips);
	addr_list_reset(&d->external_ips);
	addr_list_reset(&d->ingress);
	d->first_bad_port = -1;
}

static int read_text(struct json_reader *r, struct text_field *f)
{
	return decode_copy(r, f->text, sizeof(f->text), &f->present);
}

/* One address of a list (index i): an entry, and the list's first bad one noted. */
static int read_list_addr(struct json_reader *r, struct addr_list *l, enum service_addr_source source, size_t i)
{
	struct service_addr *a = scratch_push(&l->entries, sizeof(*a));
	char raw[RAW_LEN];
	bool valid, is_string;

	if (!a)
		return decode_no_memory(r);
	if (decode_addr(r, a->addr, &valid, raw, sizeof(raw), &is_string))
		return r->err;
	a->source = source;
	a->valid = valid;
	if (!valid && l->first_bad < 0) {
		l->first_bad = (long)i;
		snprintf(l->bad, sizeof(l->bad), "%s", is_string ? raw : "");
	}
	return 0;
}

/* spec.clusterIPs, spec.externalIPs: a list of address strings. */
static int read_addr_list(struct json_reader *r, struct addr_list *l, enum service_addr_source source)
{
	size_t i = 0;
	int ret;

	if (decode_null(r))
		return 0;
	l->present = true;
	if (json_peek(r) != JSON_ARRAY) {
		l->not_list = true;
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		if (read_list_addr(r, l, source, i++))
			return r->err;
	}
	return ret;
}

/* One entry of spec.ports. */
static int read_port(struct service_draft *d, struct json_reader *r)
{
	struct service_port *p = scratch_push(&d->ports, sizeof(*p));
	unsigned int seen = 0;
	struct text_field proto = { 0 };
	struct json_str name;
	bool port_ok = false, node_port_there = false, node_port_ok = true;
	long port = 0, node_port = 0;
	int ret, parsed;

	if (!p)
		return decode_no_memory(r);
	if (json_peek(r) != JSON_OBJECT) {
		p->flags = SERVICE_PORT_NOT_OBJECT;
		p->proto = 0;
		if (d->first_bad_port < 0)
			d->first_bad_port = (long)d->ports.n - 1;
		return json_skip(r);
	}
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "name") && first_seen(&seen, 1))
			ret = decode_port_name(r, &p->name);
		else if (JSON_STR_IS(&name, "protocol") && first_seen(&seen, 2))
			ret = read_text(r, &proto);
		else if (JSON_STR_IS(&name, "port") && first_seen(&seen, 4))
			ret = decode_int(r, 1, 65535, &port, &port_ok);
		else if (JSON_STR_IS(&name, "nodePort") && first_seen(&seen, 8))
			ret = (node_port_there = !decode_null(r)) ? decode_int(r, 0, 65535, &node_port, &node_port_ok)
								  : 0;
		else
			ret = json_skip(r);
		if (ret)
			return r->err;
	}
	if (ret)
		return ret;
	p->port = port_ok ? (__u16)port : 0;
	p->node_port = node_port_there && node_port_ok ? (__u16)node_port : 0;
	if (node_port_there && !node_port_ok)
		p->flags |= SERVICE_PORT_BAD_NODE_PORT;
	parsed = socklb_proto_parse(proto.present ? proto.text : "TCP");
	/* SCTP and the like are valid; the socket LB only translates TCP and UDP. */
	p->proto = parsed < 0 ? 0 : (__u8)parsed;
	if (d->first_bad_port < 0 && (!port_ok || (p->flags & SERVICE_PORT_BAD_NODE_PORT))) {
		d->first_bad_port = (long)d->ports.n - 1;
		d->first_bad_port_node_port = port_ok;
	}
	return 0;
}

static int read_ports(struct service_draft *d, struct json_reader *r)
{
	int ret;

	if (decode_null(r))
		return 0;
	if (json_peek(r) != JSON_ARRAY) {
		d->ports_not_list = true;
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		if (read_port(d, r))
			return r->err;
	}
	return ret;
}

/* spec.sessionAffinityConfig.clientIP.timeoutSeconds */
static int read_affinity_config(struct service_draft *d, struct json_reader *r)
{
	unsigned int seen = 0, seen_inner = 0;
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (!JSON_STR_IS(&name, "clientIP") || !first_seen(&seen, 1) || json_peek(r) != JSON_OBJECT) {
			if (json_skip(r))
				return r->err;
			continue;
		}
		if (json_enter_object(r))
			return r->err;
		while ((ret = json_next_member(r, &name)) == 1) {
			if (JSON_STR_IS(&name, "timeoutSeconds") && first_seen(&seen_inner, 1) &&
			    (d->timeout_present = !decode_null(r)))
				ret = decode_int(r, 1, 86400, &d->timeout, &d->timeout_ok);
			else
				ret = json_skip(r);
			if (ret)
				return r->err;
		}
		if (ret)
			return ret;
	}
	return ret;
}

static int read_cluster_ip(struct service_draft *d, struct json_reader *r)
{
	char raw[RAW_LEN];
	bool valid;

	if (decode_addr(r, d->cluster_ip_addr, &valid, raw, sizeof(raw), &d->cluster_ip.present))
		return r->err;
	d->cluster_ip_valid = valid;
	snprintf(d->cluster_ip.text, sizeof(d->cluster_ip.text), "%s", d->cluster_ip.present ? raw : "");
	return 0;
}

static int read_spec(struct service_draft *d, struct json_reader *r)
{
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	d->spec_object = true;
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "type") && first_seen(&d->seen, SEEN_TYPE))
			ret = read_text(r, &d->type);
		else if (JSON_STR_IS(&name, "clusterIP") && first_seen(&d->seen, SEEN_CLUSTER_IP))
			ret = read_cluster_ip(d, r);
		else if (JSON_STR_IS(&name, "clusterIPs") && first_seen(&d->seen, SEEN_CLUSTER_IPS))
			ret = read_addr_list(r, &d->cluster_ips, SERVICE_ADDR_CLUSTER);
		else if (JSON_STR_IS(&name, "externalIPs") && first_seen(&d->seen, SEEN_EXTERNAL_IPS))
			ret = read_addr_list(r, &d->external_ips, SERVICE_ADDR_EXTERNAL);
		else if (JSON_STR_IS(&name, "internalTrafficPolicy") && first_seen(&d->seen, SEEN_ITP))
			ret = read_text(r, &d->itp);
		else if (JSON_STR_IS(&name, "sessionAffinity") && first_seen(&d->seen, SEEN_AFFINITY))
			ret = read_text(r, &d->affinity);
		else if (JSON_STR_IS(&name, "sessionAffinityConfig") && first_seen(&d->seen, SEEN_AFFINITY_CONFIG))
			ret = read_affinity_config(d, r);
		else if (JSON_STR_IS(&name, "ports") && first_seen(&d->seen, SEEN_PORTS))
			ret = read_ports(d, r);
		else
			ret = json_skip(r);
		if (ret)
			return r->err;
	}
	return ret;
}

/* One entry of status.loadBalancer.ingress (index i): its ip, unless hostname-only or ipMode Proxy. */
static int read_ingress_entry(struct service_draft *d, struct json_reader *r, size_t i)
{
	struct text_field mode = { 0 };
	struct json_mark ip_at = { 0 };
	unsigned int seen = 0;
	struct json_str name;
	bool ip_string = false;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "ip") && first_seen(&seen, 1)) {
			/* Read once ipMode is known: it may come after. */
			ip_at = json_tell(r);
			ip_string = json_peek(r) == JSON_STRING;
			ret = json_skip(r);
		} else if (JSON_STR_IS(&name, "ipMode") && first_seen(&seen, 2)) {
			ret = read_text(r, &mode);
		} else {
			ret = json_skip(r);
		}
		if (ret)
			return r->err;
	}
	if (ret || !ip_string || (mode.present && strcmp(mode.text, "Proxy") == 0))
		return ret;
	{
		struct json_mark end = json_tell(r);

		json_seek(r, ip_at);
		ret = read_list_addr(r, &d->ingress, SERVICE_ADDR_INGRESS, i);
		json_seek(r, end);
	}
	return ret;
}

static int read_ingress(struct service_draft *d, struct json_reader *r)
{
	size_t i = 0;
	int ret;

	if (decode_null(r))
		return 0;
	d->ingress.present = true;
	if (json_peek(r) != JSON_ARRAY) {
		d->ingress.not_list = true;
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		if (read_ingress_entry(d, r, i++))
			return r->err;
	}
	return ret;
}

/* status.loadBalancer.ingress */
static int read_status(struct service_draft *d, struct json_reader *r)
{
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (!JSON_STR_IS(&name, "loadBalancer") || !first_seen(&d->seen, SEEN_LOAD_BALANCER) ||
		    json_peek(r) != JSON_OBJECT) {
			if (json_skip(r))
				return r->err;
			continue;
		}
		if (json_enter_object(r))
			return r->err;
		while ((ret = json_next_member(r, &name)) == 1) {
			if (JSON_STR_IS(&name, "ingress") && first_seen(&d->seen, SEEN_INGRESS))
				ret = read_ingress(d, r);
			else
				ret = json_skip(r);
			if (ret)
				return r->err;
		}
		if (ret)
			return ret;
	}
	return ret;
}

static int service_member(void *draft, struct json_reader *r, const struct json_str *name, struct k8s_decode_info *info)
{
	struct service_draft *d = draft;

	(void)info;
	if (JSON_STR_IS(name, "spec") && first_seen(&d->seen, SEEN_SPEC))
		return read_spec(d, r);
	if (JSON_STR_IS(name, "status") && first_seen(&d->seen, SEEN_STATUS))
		return read_status(d, r);
	return json_skip(r);
}

static int service_label(void *draft, struct json_reader *r, const struct json_str *key)
{
	struct service_draft *d = draft;

	if (JSON_STR_IS(key, K8S_LABEL_SERVICE_PROXY_NAME) && first_seen(&d->seen, SEEN_PROXY_NAME))
		return decode_intern(r, &d->proxy_name);
	if (JSON_STR_IS(key, K8S_LABEL_HEADLESS) && first_seen(&d->seen, SEEN_HEADLESS)) {
		d->headless = json_peek(r) == JSON_STRING;
		return json_skip(r);
	}
	return json_skip(r);
}

static enum service_type type_of(const struct text_field *type)
{
	if (!type->present || strcmp(type->text, "ClusterIP") == 0)
		return SERVICE_TYPE_CLUSTER_IP;
	if (strcmp(type->text, "NodePort") == 0)
		return SERVICE_TYPE_NODE_PORT;
	if (strcmp(type->text, "LoadBalancer") == 0)
		return SERVICE_TYPE_LOAD_BALANCER;
	if (strcmp(type->text, "ExternalName") == 0)
		return SERVICE_TYPE_EXTERNAL_NAME;
	return SERVICE_TYPE_UNKNOWN;
}

/* clusterIPs when it lists any, else clusterIP (translation reads them so). */
static bool cluster_ip_from_list(const struct service_draft *d)
{
	return d->cluster_ips.entries.n > 0;
}

/*
 * What translation says about the spec, in its order of checks: the verdict,
 * and in why the first bad field. The labels come before all of it, but
 * whether they skip the Service depends on the daemon's settings.
 */
static enum service_spec judge(const struct service_draft *d, enum service_type type, char *why, size_t len)
{
	const char *cluster_ip = d->cluster_ip.present ? d->cluster_ip.text : NULL;

	if (!d->spec_object) {
		snprintf(why, len, "spec is missing");
		return SERVICE_SPEC_MISSING;
	}
	if (type == SERVICE_TYPE_EXTERNAL_NAME)
		return SERVICE_SPEC_EXTERNAL_NAME;
	if (type == SERVICE_TYPE_UNKNOWN) {
		snprintf(why, len, "spec.type \"%s\" is unknown", d->type.text);
		return SERVICE_SPEC_INVALID;
	}
	if (!cluster_ip || !*cluster_ip || strcmp(cluster_ip, "None") == 0)
		return SERVICE_SPEC_NO_CLUSTER_IP;
	if (d->itp.present && strcmp(d->itp.text, "Local") != 0 && strcmp(d->itp.text, "Cluster") != 0)
		snprintf(why, len, "spec.internalTrafficPolicy \"%s\" is neither Cluster nor Local", d->itp.text);
	else if (d->ports_not_list)
		snprintf(why, len, "spec.ports is not a list");
	else if (d->affinity.present && strcmp(d->affinity.text, "None") != 0 &&
		 strcmp(d->affinity.text, "ClientIP") != 0)
		snprintf(why, len, "spec.sessionAffinity \"%s\" is neither None nor ClientIP", d->affinity.text);
	else if (d->affinity.present && strcmp(d->affinity.text, "ClientIP") == 0 && d->timeout_present &&
		 !d->timeout_ok)
		snprintf(why, len, "spec.sessionAffinityConfig.clientIP.timeoutSeconds must be 1-86400");
	else if (d->cluster_ips.not_list)
		snprintf(why, len, "spec.clusterIPs is not a list");
	else if (!cluster_ip_from_list(d) && !d->cluster_ip_valid)
		snprintf(why, len, "spec.clusterIP[0] \"%s\" is not an IP address", d->cluster_ip.text);
	else if (d->cluster_ips.first_bad >= 0)
		snprintf(why, len, "spec.clusterIPs[%ld] \"%s\" is not an IP address", d->cluster_ips.first_bad,
			 d->cluster_ips.bad);
	else if (d->external_ips.not_list || d->ingress.not_list)
		snprintf(why, len, "%s is not a list",
			 d->external_ips.not_list ? "spec.externalIPs" : "status.loadBalancer.ingress");
	else if (d->external_ips.first_bad >= 0)
		snprintf(why, len, "spec.externalIPs[%ld] \"%s\" is not an IP address", d->external_ips.first_bad,
			 d->external_ips.bad);
	else if (type == SERVICE_TYPE_LOAD_BALANCER && d->ingress.first_bad >= 0)
		snprintf(why, len, "status.loadBalancer.ingress.ip[%ld] \"%s\" is not an IP address",
			 d->ingress.first_bad, d->ingress.bad);
	else
		return SERVICE_SPEC_OK;
	return SERVICE_SPEC_INVALID;
}

static size_t copy_addrs(struct service_addr *to, const struct addr_list *l)
{
	scratch_copy(to, &l->entries, sizeof(*to));
	return l->entries.n;
}

static int service_finish(void *draft, struct json_reader *r, struct k8s_meta *meta, struct k8s_object **out)
{
	struct service_draft *d = draft;
	enum service_type type = type_of(&d->type);
	char why[INVALID_WHY_LEN] = "";
	enum service_spec spec = judge(d, type, why, sizeof(why));
	size_t n_cluster = cluster_ip_from_list(d) || !d->cluster_ip.present || d->cluster_ips.not_list ? 0 : 1;
	size_t n_addrs = d->cluster_ips.entries.n + n_cluster + d->external_ips.entries.n + d->ingress.entries.n;
	size_t size = align8(sizeof(struct k8s_service)) + d->ports.n * sizeof(struct service_port) +
		      n_addrs * sizeof(struct service_addr);
	struct k8s_service *svc;
	struct service_addr *addrs;
	size_t k = 0;

	(void)r;
	if (spec == SERVICE_SPEC_OK && d->first_bad_port >= 0)
		snprintf(why, sizeof(why),
			 d->first_bad_port_node_port ? "spec.ports[%ld].nodePort is not a port number"
						     : "spec.ports[%ld].port is not a port number (1-65535)",
			 d->first_bad_port);
	svc = (struct k8s_service *)k8s_object_alloc(K8S_SERVICE, size, meta->ns, meta->name);
	if (!svc)
		return -ENOMEM;
	meta->ns = meta->name = NULL;
	if (*why && !(svc->fault = intern(why, strlen(why)))) {
		k8s_object_free(&svc->obj);
		return -ENOMEM;
	}
	svc->proxy_name = d->proxy_name;
	d->proxy_name = NULL;
	svc->headless = d->headless;
	svc->spec = (__u8)spec;
	svc->type = (__u8)type;
	svc->local = d->itp.present && strcmp(d->itp.text, "Local") == 0;
	svc->has_cluster_ip = d->cluster_ip.present && *d->cluster_ip.text && strcmp(d->cluster_ip.text, "None") != 0;
	if (d->affinity.present && strcmp(d->affinity.text, "ClientIP") == 0)
		svc->affinity_timeout =
			d->timeout_present && d->timeout_ok ? (__u32)d->timeout : SOCKLB_DEFAULT_AFFINITY_TIMEOUT;
	svc->not_lists = (d->cluster_ips.not_list ? SERVICE_CLUSTER_IPS_NOT_LIST : 0) |
			 (d->external_ips.not_list ? SERVICE_EXTERNAL_IPS_NOT_LIST : 0) |
			 (d->ingress.not_list ? SERVICE_INGRESS_NOT_LIST : 0) |
			 (d->ports_not_list ? SERVICE_PORTS_NOT_LIST : 0);
	svc->n_ports = (__u32)d->ports.n;
	svc->n_addrs = (__u32)n_addrs;
	scratch_copy((void *)k8s_service_ports(svc), &d->ports, sizeof(struct service_port));
	d->ports.n = 0; /* the names are the object's now */
	for (__u32 i = 0; i < svc->n_ports; i++) {
		if (!k8s_service_ports(svc)[i].proto && !(k8s_service_ports(svc)[i].flags & SERVICE_PORT_NOT_OBJECT))
			pr_debug("Service %s/%s: ignoring spec.ports[%u]: its protocol is neither TCP nor UDP",
				 svc->obj.ns, svc->obj.name ? svc->obj.name : "", i);
	}
	addrs = (struct service_addr *)k8s_service_addrs(svc);
	k += copy_addrs(addrs + k, &d->cluster_ips);
	if (n_cluster) {
		memcpy(addrs[k].addr, d->cluster_ip_addr, sizeof(addrs[k].addr));
		addrs[k].source = SERVICE_ADDR_CLUSTER;
		addrs[k++].valid = d->cluster_ip_valid;
	}
	k += copy_addrs(addrs + k, &d->external_ips);
	copy_addrs(addrs + k, &d->ingress);
	*out = &svc->obj;
	return 0;
}

static void service_free(void *draft)
{
	struct service_draft *d = draft;

	service_release(d);
	scratch_free(&d->ports);
	scratch_free(&d->cluster_ips.entries);
	scratch_free(&d->external_ips.entries);
	scratch_free(&d->ingress.entries);
}

const struct kind_decoder k8s_service_decoder = {
	.scratch_size = sizeof(struct service_draft),
	.begin = service_begin,
	.member = service_member,
	.label = service_label,
	.finish = service_finish,
	.release = service_release,
	.free = service_free,
};
