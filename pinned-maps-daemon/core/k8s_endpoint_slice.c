// SPDX-License-Identifier: Apache-2.0
#include "k8s_endpoint_slice.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intern.h"
#include "invalid_object.h"
#include "k8s_decode_impl.h"
#include "lbmap.h"
#include "log.h"

const struct slice_port *k8s_slice_ports(const struct k8s_slice *s)
{
	return (const struct slice_port *)((const char *)s + align8(sizeof(*s)));
}

const struct slice_endpoint *k8s_slice_endpoints(const struct k8s_slice *s)
{
	return (const struct slice_endpoint *)(k8s_slice_ports(s) + s->n_ports);
}

const char *const *k8s_slice_hint_names(const struct k8s_slice *s)
{
	return (const char *const *)(k8s_slice_endpoints(s) + s->n_endpoints);
}

static const struct slice_hints *slice_hints(const struct k8s_slice *s)
{
	return (const struct slice_hints *)(k8s_slice_hint_names(s) + s->n_hint_names);
}

const struct slice_hints *k8s_slice_endpoint_hints(const struct k8s_slice *s, const struct slice_endpoint *e)
{
	return e->hints ? &slice_hints(s)[e->hints - 1] : NULL;
}

/* ---- decoding ------------------------------------------------------------------ */

#define WHY_LEN INVALID_WHY_LEN

enum slice_seen {
	SEEN_API_VERSION = 1u << 0,
	SEEN_ADDRESS_TYPE = 1u << 1,
	SEEN_PORTS = 1u << 2,
	SEEN_ENDPOINTS = 1u << 3,
	SEEN_SERVICE = 1u << 4,
	SEEN_TRIGGER_TIME = 1u << 5,
};

enum address_type {
	ADDRESS_TYPE_MISSING, /* absent or not a string */
	ADDRESS_TYPE_IPV4,
	ADDRESS_TYPE_IPV6,
	ADDRESS_TYPE_OTHER, /* FQDN: kube-proxy ignores the slice */
};

struct slice_draft {
	unsigned int seen;
	const char *service;
	double trigger_time;
	bool has_trigger_time;
	enum address_type address_type;
	char ports_fault[WHY_LEN]; /* the first thing wrong with the ports; "" */
	char endpoints_fault[WHY_LEN]; /* likewise for the endpoints */
	bool endpoints_deferred; /* read before addressType: read again once it is known */
	struct json_mark endpoints_at;
	struct scratch ports; /* struct slice_port */
	struct scratch endpoints; /* struct slice_endpoint */
	struct scratch hints; /* struct slice_hints */
	struct scratch hint_names; /* const char * */
};

static void slice_release(void *draft)
{
	struct slice_draft *d = draft;
	const struct slice_port *ports = d->ports.items;
	const struct slice_endpoint *endpoints = d->endpoints.items;
	const char **names = d->hint_names.items;

	intern_put(d->service);
	d->service = NULL;
	for (size_t i = 0; i < d->ports.n; i++)
		intern_put(ports[i].name);
	for (size_t i = 0; i < d->endpoints.n; i++)
		intern_put(endpoints[i].node_name);
	for (size_t i = 0; i < d->hint_names.n; i++)
		intern_put(names[i]);
	d->ports.n = d->endpoints.n = d->hints.n = d->hint_names.n = 0;
}

static void slice_begin(void *draft)
{
	struct slice_draft *d = draft;
	struct scratch keep[4] = { d->ports, d->endpoints, d->hints, d->hint_names };

	slice_release(d);
	memset(d, 0, sizeof(*d));
	d->ports = keep[0];
	d->endpoints = keep[1];
	d->hints = keep[2];
	d->hint_names = keep[3];
}

static void slice_free(void *draft)
{
	struct slice_draft *d = draft;

	slice_release(d);
	scratch_free(&d->ports);
	scratch_free(&d->endpoints);
	scratch_free(&d->hints);
	scratch_free(&d->hint_names);
}

/* One entry of ports (index i), as translation reads it: kept, left out, or the slice's fault. */
static int read_port(struct slice_draft *d, struct json_reader *r, size_t i)
{
	struct json_str field;
	unsigned int seen = 0;
	char proto[16] = "";
	const char *name = NULL;
	bool name_bad = false, proto_there = false, proto_bad = false, port_there = false, port_ok = false;
	long port = 0;
	int ret, parsed;

	if (json_peek(r) != JSON_OBJECT) {
		snprintf(d->ports_fault, WHY_LEN, "ports[%zu] is not an object", i);
		return json_skip(r);
	}
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &field)) == 1) {
		if (JSON_STR_IS(&field, "name") && first_seen(&seen, 1)) {
			name_bad = json_peek(r) != JSON_STRING && json_peek(r) != JSON_NULL;
			ret = decode_port_name(r, &name);
		} else if (JSON_STR_IS(&field, "protocol") && first_seen(&seen, 2)) {
			proto_bad = json_peek(r) != JSON_STRING && json_peek(r) != JSON_NULL;
			ret = decode_copy(r, proto, sizeof(proto), &proto_there);
		} else if (JSON_STR_IS(&field, "port") && first_seen(&seen, 4)) {
			port_there = !decode_null(r);
			ret = port_there ? decode_int(r, 1, 65535, &port, &port_ok) : 0;
		} else {
			ret = json_skip(r);
		}
		if (ret) {
			intern_put(name);
			return r->err;
		}
	}
	parsed = socklb_proto_parse(proto_there ? proto : "TCP");
	if (ret || name_bad || proto_bad || !port_there || !port_ok || parsed < 0) {
		intern_put(name);
		if (ret)
			return ret;
		if (name_bad || proto_bad)
			snprintf(d->ports_fault, WHY_LEN, "ports[%zu]: name and protocol must be strings", i);
		else if (port_there && !port_ok)
			snprintf(d->ports_fault, WHY_LEN, "ports[%zu].port is not a port number (1-65535)", i);
		/* A nil port means "all ports": nothing to program. SCTP and the like: valid, not ours. */
		return 0;
	}
	{
		struct slice_port *p = scratch_push(&d->ports, sizeof(*p));

		if (!p) {
			intern_put(name);
			return decode_no_memory(r);
		}
		p->name = name;
		p->port = (__u16)port;
		p->proto = (__u8)parsed;
	}
	return 0;
}

static int read_ports(struct slice_draft *d, struct json_reader *r)
{
	size_t i = 0;
	int ret;

	if (decode_null(r))
		return 0;
	if (json_peek(r) != JSON_ARRAY) {
		snprintf(d->ports_fault, WHY_LEN, "ports is not a list");
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		/* After the first fault, nothing of them counts: only the JSON is checked. */
		if ((*d->ports_fault ? json_skip(r) : read_port(d, r, i)))
			return r->err;
		i++;
	}
	return ret;
}

/* What one endpoint says, in the order translation checks it. */
struct endpoint_read {
	size_t index;
	bool addresses_ok; /* a list whose first entry is a string */
	char address[WHY_LEN]; /* that string */
	bool conditions_not_object;
	bool conditions_bad; /* ready, serving or terminating there and not a boolean */
	bool node_name_bad;
	bool hints_not_object;
	char hints_fault[WHY_LEN]; /* forNodes, then forZones */
};

/* endpoints[i].addresses: the first entry, when it is a string. */
static int read_addresses(struct json_reader *r, struct endpoint_read *e)
{
	int ret;

	if (json_peek(r) != JSON_ARRAY)
		return json_skip(r);
	if (json_enter_array(r))
		return r->err;
	ret = json_next_element(r);
	if (ret == 1) {
		if (decode_copy(r, e->address, sizeof(e->address), &e->addresses_ok))
			return r->err;
		while ((ret = json_next_element(r)) == 1) {
			if (json_skip(r))
				return r->err;
		}
	}
	return ret;
}

static int read_conditions(struct json_reader *r, struct slice_endpoint *se, struct endpoint_read *e)
{
	bool ready = true, serving = true, terminating = false, ok;
	unsigned int seen = 0;
	struct json_str field;
	int ret;

	if (decode_null(r))
		goto out;
	if (json_peek(r) != JSON_OBJECT) {
		e->conditions_not_object = true;
		return json_skip(r);
	}
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &field)) == 1) {
		if (JSON_STR_IS(&field, "ready") && first_seen(&seen, 1))
			ret = decode_bool(r, &ready, &ok);
		else if (JSON_STR_IS(&field, "serving") && first_seen(&seen, 2))
			ret = decode_bool(r, &serving, &ok);
		else if (JSON_STR_IS(&field, "terminating") && first_seen(&seen, 4))
			ret = decode_bool(r, &terminating, &ok);
		else
			ret = json_skip(r), ok = true;
		if (ret)
			return r->err;
		e->conditions_bad |= !ok;
	}
	if (ret)
		return ret;
out:
	se->conditions = (ready ? SLICE_ENDPOINT_READY : 0) | (serving ? SLICE_ENDPOINT_SERVING : 0) |
			 (terminating ? SLICE_ENDPOINT_TERMINATING : 0);
	return 0;
}

/* hints.forNodes or hints.forZones: every entry names something; the names into the draft. */
static int read_hint_list(struct slice_draft *d, struct json_reader *r, struct endpoint_read *e, const char *field,
			  __u32 *n)
{
	struct json_str member;
	int ret;

	if (decode_null(r))
		return 0;
	if (json_peek(r) != JSON_ARRAY) {
		if (!*e->hints_fault)
			snprintf(e->hints_fault, WHY_LEN, "endpoints[%zu].hints.%s is not a list", e->index, field);
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		const char *name = NULL;
		unsigned int seen = 0;

		if (json_peek(r) != JSON_OBJECT) {
			if (!*e->hints_fault)
				snprintf(e->hints_fault, WHY_LEN, "endpoints[%zu].hints.%s[] needs a name", e->index,
					 field);
			if (json_skip(r))
				return r->err;
			continue;
		}
		if (json_enter_object(r))
			return r->err;
		while ((ret = json_next_member(r, &member)) == 1) {
			if (JSON_STR_IS(&member, "name") && first_seen(&seen, 1))
				ret = decode_intern(r, &name);
			else
				ret = json_skip(r);
			if (ret) {
				intern_put(name);
				return r->err;
			}
		}
		if (ret) {
			intern_put(name);
			return ret;
		}
		if (!name) {
			if (!*e->hints_fault)
				snprintf(e->hints_fault, WHY_LEN, "endpoints[%zu].hints.%s[] needs a name", e->index,
					 field);
			continue;
		}
		{
			const char **slot = scratch_push(&d->hint_names, sizeof(*slot));

			if (!slot) {
				intern_put(name);
				return decode_no_memory(r);
			}
			*slot = name;
			(*n)++;
		}
	}
	return ret;
}

/*
 * hints: forNodes is read (and judged) before forZones whatever their order
 * in the text, so their names go in that order.
 */
static int read_hints(struct slice_draft *d, struct json_reader *r, struct slice_endpoint *se, struct endpoint_read *e)
{
	struct json_mark nodes_at = { 0 }, zones_at = { 0 }, end;
	unsigned int seen = 0;
	struct slice_hints h = { .first = (__u32)d->hint_names.n };
	struct json_str field;
	int ret;

	if (decode_null(r))
		return 0;
	if (json_peek(r) != JSON_OBJECT) {
		e->hints_not_object = true;
		return json_skip(r);
	}
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &field)) == 1) {
		if (JSON_STR_IS(&field, "forNodes") && first_seen(&seen, 1))
			nodes_at = json_tell(r);
		else if (JSON_STR_IS(&field, "forZones") && first_seen(&seen, 2))
			zones_at = json_tell(r);
		if (json_skip(r))
			return r->err;
	}
	if (ret)
		return ret;
	end = json_tell(r);
	if (seen & 1) {
		json_seek(r, nodes_at);
		if (read_hint_list(d, r, e, "forNodes", &h.n_nodes))
			return r->err;
	}
	if (seen & 2) {
		json_seek(r, zones_at);
		if (read_hint_list(d, r, e, "forZones", &h.n_zones))
			return r->err;
	}
	json_seek(r, end);
	if (h.n_nodes || h.n_zones) {
		struct slice_hints *slot = scratch_push(&d->hints, sizeof(*slot));

		if (!slot)
			return decode_no_memory(r);
		*slot = h;
		se->hints = (__u32)d->hints.n;
	}
	return 0;
}

/* The first thing translation finds wrong with the endpoint, into d->endpoints_fault; none: it is kept. */
static void judge_endpoint(struct slice_draft *d, struct slice_endpoint *se, const struct endpoint_read *e)
{
	int family = d->address_type == ADDRESS_TYPE_IPV4 ? 4 : 6;
	char *why = d->endpoints_fault;
	size_t i = e->index;

	if (!e->addresses_ok)
		snprintf(why, WHY_LEN, "endpoints[%zu].addresses must be a non-empty list of addresses", i);
	else if (socklb_addr_parse(e->address, se->addr) < 0 || socklb_addr_is_v4(se->addr) != (family == 4))
		snprintf(why, WHY_LEN, "endpoints[%zu].addresses[0] \"%s\" is not an IPv%d address", i, e->address,
			 family);
	else if (e->conditions_not_object)
		snprintf(why, WHY_LEN, "endpoints[%zu].conditions is not an object", i);
	else if (e->conditions_bad)
		snprintf(why, WHY_LEN, "endpoints[%zu].conditions: ready, serving and terminating must be booleans", i);
	else if (e->node_name_bad)
		snprintf(why, WHY_LEN, "endpoints[%zu].nodeName is not a string", i);
	else if (e->hints_not_object)
		snprintf(why, WHY_LEN, "endpoints[%zu].hints is not an object", i);
	else if (*e->hints_fault)
		snprintf(why, WHY_LEN, "%s", e->hints_fault);
}

static int read_endpoint(struct slice_draft *d, struct json_reader *r, size_t i)
{
	struct endpoint_read e = { .index = i };
	struct slice_endpoint *se;
	unsigned int seen = 0;
	struct json_str field;
	int ret;

	if (json_peek(r) != JSON_OBJECT) {
		snprintf(d->endpoints_fault, WHY_LEN, "endpoints[%zu] is not an object", i);
		return json_skip(r);
	}
	se = scratch_push(&d->endpoints, sizeof(*se));
	if (!se)
		return decode_no_memory(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &field)) == 1) {
		if (JSON_STR_IS(&field, "addresses") && first_seen(&seen, 1)) {
			ret = read_addresses(r, &e);
		} else if (JSON_STR_IS(&field, "conditions") && first_seen(&seen, 2)) {
			ret = read_conditions(r, se, &e);
		} else if (JSON_STR_IS(&field, "nodeName") && first_seen(&seen, 4)) {
			e.node_name_bad = json_peek(r) != JSON_STRING && json_peek(r) != JSON_NULL;
			ret = decode_intern(r, &se->node_name);
		} else if (JSON_STR_IS(&field, "hints") && first_seen(&seen, 8)) {
			ret = read_hints(d, r, se, &e);
		} else {
			ret = json_skip(r);
		}
		if (ret)
			return r->err;
	}
	if (ret)
		return ret;
	if (!(seen & 2))
		se->conditions = SLICE_ENDPOINT_READY | SLICE_ENDPOINT_SERVING;
	judge_endpoint(d, se, &e);
	return 0;
}

static int read_endpoints(struct slice_draft *d, struct json_reader *r)
{
	size_t i = 0;
	int ret;

	if (decode_null(r))
		return 0;
	if (json_peek(r) != JSON_ARRAY) {
		snprintf(d->endpoints_fault, WHY_LEN, "endpoints is not a list");
		return json_skip(r);
	}
	if (json_enter_array(r))
		return r->err;
	while ((ret = json_next_element(r)) == 1) {
		if ((*d->endpoints_fault ? json_skip(r) : read_endpoint(d, r, i)))
			return r->err;
		i++;
	}
	return ret;
}

static int read_address_type(struct slice_draft *d, struct json_reader *r)
{
	char type[16];
	bool is_string;

	if (decode_copy(r, type, sizeof(type), &is_string))
		return r->err;
	if (!is_string)
		d->address_type = ADDRESS_TYPE_MISSING;
	else if (strcmp(type, "IPv4") == 0)
		d->address_type = ADDRESS_TYPE_IPV4;
	else if (strcmp(type, "IPv6") == 0)
		d->address_type = ADDRESS_TYPE_IPV6;
	else
		d->address_type = ADDRESS_TYPE_OTHER;
	return 0;
}

static int read_api_version(struct json_reader *r, struct k8s_decode_info *info)
{
	bool is_string;
	char buf[sizeof(info->api_version) + 1];

	if (!info)
		return json_skip(r);
	if (decode_copy(r, buf, sizeof(buf), &is_string))
		return r->err;
	info->other_api_version = is_string && strcmp(buf, "discovery.k8s.io/v1") != 0;
	snprintf(info->api_version, sizeof(info->api_version), "%s", is_string ? buf : "");
	return 0;
}

static int slice_member(void *draft, struct json_reader *r, const struct json_str *name, struct k8s_decode_info *info)
{
	struct slice_draft *d = draft;

	if (JSON_STR_IS(name, "apiVersion") && first_seen(&d->seen, SEEN_API_VERSION))
		return read_api_version(r, info);
	if (JSON_STR_IS(name, "addressType") && first_seen(&d->seen, SEEN_ADDRESS_TYPE))
		return read_address_type(d, r);
	if (JSON_STR_IS(name, "ports") && first_seen(&d->seen, SEEN_PORTS))
		return read_ports(d, r);
	if (JSON_STR_IS(name, "endpoints") && first_seen(&d->seen, SEEN_ENDPOINTS)) {
		/* An endpoint's address is judged against the address type: it must be known first. */
		if (!(d->seen & SEEN_ADDRESS_TYPE)) {
			d->endpoints_deferred = true;
			d->endpoints_at = json_tell(r);
			return json_skip(r);
		}
		if (d->address_type == ADDRESS_TYPE_IPV4 || d->address_type == ADDRESS_TYPE_IPV6)
			return read_endpoints(d, r);
	}
	return json_skip(r);
}

static int slice_label(void *draft, struct json_reader *r, const struct json_str *key)
{
	struct slice_draft *d = draft;

	if (JSON_STR_IS(key, K8S_LABEL_SERVICE_NAME) && first_seen(&d->seen, SEEN_SERVICE))
		return decode_intern(r, &d->service);
	return json_skip(r);
}

static int slice_annotation(void *draft, struct json_reader *r, const struct json_str *key)
{
	struct slice_draft *d = draft;
	struct json_str when;
	char buf[256], *copy = buf;

	if (!JSON_STR_IS(key, K8S_ANNOTATION_TRIGGER_TIME) || !first_seen(&d->seen, SEEN_TRIGGER_TIME) ||
	    json_peek(r) != JSON_STRING)
		return json_skip(r);
	if (json_read_string(r, &when))
		return r->err;
	if (when.len >= sizeof(buf) && !(copy = malloc(when.len + 1)))
		return decode_no_memory(r);
	memcpy(copy, when.p, when.len);
	copy[when.len] = '\0';
	d->has_trigger_time = k8s_time_parse(copy, &d->trigger_time) == 0;
	if (copy != buf)
		free(copy);
	return 0;
}

/* The slice's fault, in translation's order: its address type, its ports, its endpoints. */
static const char *judge(const struct slice_draft *d)
{
	if (d->address_type == ADDRESS_TYPE_MISSING)
		return "addressType is missing";
	if (d->address_type == ADDRESS_TYPE_OTHER)
		return NULL;
	if (*d->ports_fault)
		return d->ports_fault;
	if (*d->endpoints_fault)
		return d->endpoints_fault;
	return NULL;
}

static int slice_finish(void *draft, struct json_reader *r, struct k8s_meta *meta, struct k8s_object **out)
{
	struct slice_draft *d = draft;
	bool ip = d->address_type == ADDRESS_TYPE_IPV4 || d->address_type == ADDRESS_TYPE_IPV6;
	const char *fault;
	struct k8s_slice *s;
	size_t size;

	if (d->endpoints_deferred && ip) {
		struct json_mark end = json_tell(r);

		json_seek(r, d->endpoints_at);
		if (read_endpoints(d, r))
			return r->err;
		json_seek(r, end);
	}
	fault = judge(d);
	/* A malformed slice is used by nothing: keep what names it, and its fault. */
	if (fault || !ip) {
		const char *service = d->service;

		d->service = NULL;
		slice_release(d);
		d->service = service;
	}
	size = align8(sizeof(struct k8s_slice)) + d->ports.n * sizeof(struct slice_port) +
	       d->endpoints.n * sizeof(struct slice_endpoint) + d->hint_names.n * sizeof(const char *) +
	       d->hints.n * sizeof(struct slice_hints);
	s = (struct k8s_slice *)k8s_object_alloc(K8S_ENDPOINTSLICE, size, meta->ns, meta->name);
	if (!s)
		return -ENOMEM;
	meta->ns = meta->name = NULL;
	if (fault && !(s->fault = intern(fault, strlen(fault)))) {
		k8s_object_free(&s->obj);
		return -ENOMEM;
	}
	if (!ip && !fault)
		pr_debug("EndpointSlice %s/%s: ignoring its addressType (not IPv4 nor IPv6)", s->obj.ns,
			 s->obj.name ? s->obj.name : "");
	s->service = d->service;
	d->service = NULL;
	s->trigger_time = d->has_trigger_time ? d->trigger_time : 0;
	s->has_trigger_time = d->has_trigger_time;
	s->family = d->address_type == ADDRESS_TYPE_IPV4 ? 4 : d->address_type == ADDRESS_TYPE_IPV6 ? 6 : 0;
	s->n_ports = (__u32)d->ports.n;
	s->n_endpoints = (__u32)d->endpoints.n;
	s->n_hint_names = (__u32)d->hint_names.n;
	s->n_hints = (__u32)d->hints.n;
	scratch_copy((void *)k8s_slice_ports(s), &d->ports, sizeof(struct slice_port));
	scratch_copy((void *)k8s_slice_endpoints(s), &d->endpoints, sizeof(struct slice_endpoint));
	scratch_copy((void *)k8s_slice_hint_names(s), &d->hint_names, sizeof(const char *));
	scratch_copy((void *)slice_hints(s), &d->hints, sizeof(struct slice_hints));
	/* The strings are the object's now. */
	d->ports.n = d->endpoints.n = d->hint_names.n = d->hints.n = 0;
	*out = &s->obj;
	return 0;
}

const struct kind_decoder k8s_slice_decoder = {
	.scratch_size = sizeof(struct slice_draft),
	.begin = slice_begin,
	.member = slice_member,
	.label = slice_label,
	.annotation = slice_annotation,
	.finish = slice_finish,
	.release = slice_release,
	.free = slice_free,
};
