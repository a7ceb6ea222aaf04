// SPDX-License-Identifier: Apache-2.0
#include "k8s_node.h"

#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "k8s_decode_impl.h"
#include "lbmap.h"

const __be32 (*k8s_node_addrs(const struct k8s_node *node))[4]
{
	return (const __be32(*)[4])((const char *)node + align8(sizeof(*node)));
}

const char *const *k8s_node_ignored(const struct k8s_node *node)
{
	return (const char *const *)((const char *)node +
				     align8(align8(sizeof(*node)) + node->n_addrs * sizeof(__be32[4])));
}

struct node_draft {
	unsigned int seen;
	const char *zone;
	struct scratch addrs; /* __be32[4] */
	struct scratch ignored; /* const char *, interned */
};

enum node_seen {
	SEEN_ZONE = 1u << 0,
	SEEN_STATUS = 1u << 1,
	SEEN_ADDRESSES = 1u << 2,
};

static void node_release(void *draft)
{
	struct node_draft *d = draft;
	const char **ignored = d->ignored.items;

	intern_put(d->zone);
	d->zone = NULL;
	for (size_t i = 0; i < d->ignored.n; i++)
		intern_put(ignored[i]);
	d->ignored.n = 0;
}

static void node_begin(void *draft)
{
	struct node_draft *d = draft;

	node_release(d);
	d->seen = 0;
	d->addrs.n = 0;
}

static void node_free(void *draft)
{
	struct node_draft *d = draft;

	node_release(d);
	scratch_free(&d->addrs);
	scratch_free(&d->ignored);
}

/* One entry of status.addresses: InternalIP and ExternalIP addresses count; Hostname and DNS are names. */
static int read_address(struct node_draft *d, struct json_reader *r)
{
	char type[16] = "", value[64] = "";
	bool type_string = false, value_string = false;
	unsigned int seen = 0;
	struct json_str name;
	__be32 addr[4];
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "type") && first_seen(&seen, 1))
			ret = decode_copy(r, type, sizeof(type), &type_string);
		else if (JSON_STR_IS(&name, "address") && first_seen(&seen, 2))
			ret = decode_copy(r, value, sizeof(value), &value_string);
		else
			ret = json_skip(r);
		if (ret)
			return r->err;
	}
	if (ret || !type_string || (strcmp(type, "InternalIP") != 0 && strcmp(type, "ExternalIP") != 0))
		return ret;
	if (!value_string || strlen(value) == sizeof(value) - 1 || socklb_addr_parse(value, addr) < 0) {
		const char **slot = scratch_push(&d->ignored, sizeof(*slot));
		char said[128];

		if (!slot)
			return decode_no_memory(r);
		snprintf(said, sizeof(said), "of type %s: \"%s\"", type, value_string ? value : "");
		*slot = intern(said, strlen(said));
		if (!*slot) {
			d->ignored.n--;
			return decode_no_memory(r);
		}
		return 0;
	}
	for (size_t i = 0; i < d->addrs.n; i++) {
		if (memcmp((__be32(*)[4])d->addrs.items + i, addr, sizeof(addr)) == 0)
			return 0;
	}
	{
		__be32(*slot)[4] = scratch_push(&d->addrs, sizeof(*slot));

		if (!slot)
			return decode_no_memory(r);
		memcpy(*slot, addr, sizeof(addr));
	}
	return 0;
}

static int read_status(struct node_draft *d, struct json_reader *r)
{
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (!JSON_STR_IS(&name, "addresses") || !first_seen(&d->seen, SEEN_ADDRESSES) ||
		    json_peek(r) != JSON_ARRAY) {
			if (json_skip(r))
				return r->err;
			continue;
		}
		if (json_enter_array(r))
			return r->err;
		while ((ret = json_next_element(r)) == 1) {
			if (read_address(d, r))
				return r->err;
		}
		if (ret)
			return ret;
	}
	return ret;
}

static int node_member(void *draft, struct json_reader *r, const struct json_str *name, struct k8s_decode_info *info)
{
	struct node_draft *d = draft;

	(void)info;
	if (JSON_STR_IS(name, "status") && first_seen(&d->seen, SEEN_STATUS))
		return read_status(d, r);
	return json_skip(r);
}

static int node_label(void *draft, struct json_reader *r, const struct json_str *key)
{
	struct node_draft *d = draft;

	if (JSON_STR_IS(key, K8S_LABEL_ZONE) && first_seen(&d->seen, SEEN_ZONE))
		return decode_intern(r, &d->zone);
	return json_skip(r);
}

static int node_finish(void *draft, struct json_reader *r, struct k8s_meta *meta, struct k8s_object **out)
{
	struct node_draft *d = draft;
	size_t size = align8(align8(sizeof(struct k8s_node)) + d->addrs.n * sizeof(__be32[4])) +
		      d->ignored.n * sizeof(const char *);
	struct k8s_node *node;

	(void)r;
	node = (struct k8s_node *)k8s_object_alloc(K8S_NODE, size, meta->ns, meta->name);
	if (!node)
		return -1;
	meta->ns = meta->name = NULL;
	node->zone = d->zone;
	d->zone = NULL;
	node->n_addrs = (__u32)d->addrs.n;
	node->n_ignored = (__u32)d->ignored.n;
	scratch_copy((void *)k8s_node_addrs(node), &d->addrs, sizeof(__be32[4]));
	scratch_copy((void *)k8s_node_ignored(node), &d->ignored, sizeof(const char *));
	d->ignored.n = 0; /* the node's now */
	*out = &node->obj;
	return 0;
}

const struct kind_decoder k8s_node_decoder = {
	.scratch_size = sizeof(struct node_draft),
	.begin = node_begin,
	.member = node_member,
	.label = node_label,
	.finish = node_finish,
	.release = node_release,
	.free = node_free,
};
