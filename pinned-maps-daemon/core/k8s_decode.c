// SPDX-License-Identifier: Apache-2.0
#include "k8s_decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intern.h"
#include "k8s_decode_impl.h"
#include "lbmap.h"

struct k8s_decoder {
	void *drafts[K8S_KIND_COUNT];
};

static const struct kind_decoder *const kind_decoders[K8S_KIND_COUNT] = {
	[K8S_SERVICE] = &k8s_service_decoder,
	[K8S_ENDPOINTSLICE] = &k8s_slice_decoder,
	[K8S_NAMESPACE] = &k8s_namespace_decoder,
	[K8S_NODE] = &k8s_node_decoder,
};

struct k8s_decoder *k8s_decoder_new(void)
{
	return calloc(1, sizeof(struct k8s_decoder));
}

void k8s_decoder_free(struct k8s_decoder *d)
{
	if (!d)
		return;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		if (d->drafts[k])
			kind_decoders[k]->free(d->drafts[k]);
		free(d->drafts[k]);
	}
	free(d);
}

/* ---- helpers for the kinds' decoders ------------------------------------------ */

int decode_no_memory(struct json_reader *r)
{
	if (!r->err)
		r->err = -ENOMEM;
	return r->err;
}

int decode_intern(struct json_reader *r, const char **out)
{
	struct json_str s;

	intern_put(*out);
	*out = NULL;
	if (json_peek(r) != JSON_STRING)
		return json_skip(r);
	if (json_read_string(r, &s))
		return r->err;
	*out = intern(s.p, s.len);
	return *out ? 0 : decode_no_memory(r);
}

int decode_port_name(struct json_reader *r, const char **out)
{
	if (decode_intern(r, out))
		return r->err;
	if (*out && !**out) {
		intern_put(*out);
		*out = NULL;
	}
	return 0;
}

int decode_copy(struct json_reader *r, char *buf, size_t len, bool *is_string)
{
	struct json_str s;
	size_t n;

	*is_string = json_peek(r) == JSON_STRING;
	if (!*is_string)
		return json_skip(r);
	if (json_read_string(r, &s))
		return r->err;
	n = s.len < len - 1 ? s.len : len - 1;
	memcpy(buf, s.p, n);
	buf[n] = '\0';
	return 0;
}

bool decode_null(struct json_reader *r)
{
	return json_peek(r) == JSON_NULL && json_skip(r) == 0;
}

int decode_int(struct json_reader *r, long min, long max, long *out, bool *ok)
{
	double v;

	*ok = false;
	if (json_peek(r) != JSON_NUMBER)
		return json_skip(r);
	if (json_read_number(r, &v))
		return r->err;
	if (v >= (double)min && v <= (double)max && v == (double)(long)v) {
		*out = (long)v;
		*ok = true;
	}
	return 0;
}

int decode_bool(struct json_reader *r, bool *out, bool *ok)
{
	enum json_type type = json_peek(r);

	*ok = type == JSON_TRUE || type == JSON_FALSE || type == JSON_NULL;
	if (type == JSON_TRUE || type == JSON_FALSE)
		*out = type == JSON_TRUE;
	return json_skip(r);
}

int decode_addr(struct json_reader *r, __be32 addr[4], bool *valid, char *raw, size_t raw_len, bool *is_string)
{
	*valid = false;
	if (decode_copy(r, raw, raw_len, is_string))
		return r->err;
	/* An address longer than the copy is no address anyway. */
	*valid = *is_string && strlen(raw) < raw_len - 1 && socklb_addr_parse(raw, addr) == 0;
	return 0;
}

void *scratch_push(struct scratch *s, size_t size)
{
	char *item;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *items = realloc(s->items, cap * size);

		if (!items)
			return NULL;
		s->items = items;
		s->cap = cap;
	}
	item = (char *)s->items + s->n++ * size;
	memset(item, 0, size);
	return item;
}

void scratch_copy(void *dst, const struct scratch *s, size_t size)
{
	if (s->n)
		memcpy(dst, s->items, s->n * size);
}

void scratch_free(struct scratch *s)
{
	free(s->items);
	memset(s, 0, sizeof(*s));
}

/* ---- the common part ------------------------------------------------------------ */

/* A map of strings (labels, annotations): each entry to cb, or all skipped. */
static int decode_map(struct json_reader *r, void *draft,
		      int (*cb)(void *draft, struct json_reader *r, const struct json_str *key))
{
	struct json_str key;
	int ret;

	if (!cb || json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &key)) == 1) {
		if (cb(draft, r, &key))
			return r->err;
	}
	return ret;
}

static int decode_resource_version(struct json_reader *r, struct k8s_decode_info *info)
{
	struct json_str s;

	if (!info || !info->want_resource_version || json_peek(r) != JSON_STRING)
		return json_skip(r);
	if (json_read_string(r, &s))
		return r->err;
	free(info->resource_version);
	info->resource_version = strndup(s.p, s.len);
	return info->resource_version ? 0 : decode_no_memory(r);
}

enum meta_field {
	META_NAME = 1u << 0,
	META_NAMESPACE = 1u << 1,
	META_LABELS = 1u << 2,
	META_ANNOTATIONS = 1u << 3,
	META_RESOURCE_VERSION = 1u << 4,
};

static int decode_metadata(const struct kind_decoder *kd, void *draft, struct json_reader *r, struct k8s_meta *meta,
			   struct k8s_decode_info *info)
{
	unsigned int seen = 0;
	struct json_str name;
	int ret;

	if (json_peek(r) != JSON_OBJECT)
		return json_skip(r);
	if (json_enter_object(r))
		return r->err;
	while ((ret = json_next_member(r, &name)) == 1) {
		if (JSON_STR_IS(&name, "name") && first_seen(&seen, META_NAME))
			ret = decode_intern(r, &meta->name);
		else if (JSON_STR_IS(&name, "namespace") && first_seen(&seen, META_NAMESPACE))
			ret = decode_intern(r, &meta->ns);
		else if (JSON_STR_IS(&name, "labels") && first_seen(&seen, META_LABELS))
			ret = decode_map(r, draft, kd->label);
		else if (JSON_STR_IS(&name, "annotations") && first_seen(&seen, META_ANNOTATIONS))
			ret = decode_map(r, draft, kd->annotation);
		else if (JSON_STR_IS(&name, "resourceVersion") && first_seen(&seen, META_RESOURCE_VERSION))
			ret = decode_resource_version(r, info);
		else
			ret = json_skip(r);
		if (ret)
			return r->err;
	}
	return ret;
}

int k8s_decode(struct k8s_decoder *d, struct json_reader *r, enum k8s_kind kind, struct k8s_decode_info *info,
	       struct k8s_object **out)
{
	const struct kind_decoder *kd = kind_decoders[kind];
	struct k8s_meta meta = { 0 };
	bool metadata_seen = false;
	struct json_str name;
	void *draft;

	*out = NULL;
	if (info) {
		info->resource_version = NULL;
		info->other_api_version = false;
	}
	if (!d->drafts[kind]) {
		d->drafts[kind] = calloc(1, kd->scratch_size);
		if (!d->drafts[kind])
			return decode_no_memory(r);
	}
	draft = d->drafts[kind];
	kd->begin(draft);
	if (json_enter_object(r))
		return r->err;
	while (json_next_member(r, &name) == 1) {
		int ret;

		if (JSON_STR_IS(&name, "metadata") && !metadata_seen) {
			metadata_seen = true;
			ret = decode_metadata(kd, draft, r, &meta, info);
		} else {
			ret = kd->member(draft, r, &name, info);
		}
		if (ret)
			break;
	}
	if (!r->err && !meta.ns && !(meta.ns = intern("", 0)))
		decode_no_memory(r);
	if (!r->err && kd->finish(draft, r, &meta, out))
		decode_no_memory(r);
	if (!r->err)
		return 0;
	kd->release(draft);
	intern_put(meta.ns);
	intern_put(meta.name);
	if (info) {
		free(info->resource_version);
		info->resource_version = NULL;
	}
	return r->err;
}

int k8s_decode_kind_name(struct json_reader *r, char *buf, size_t len)
{
	struct json_mark start = json_tell(r);
	struct json_str name;
	bool is_string = false;

	if (json_peek(r) != JSON_OBJECT)
		return r->err;
	if (json_enter_object(r))
		return r->err;
	while (json_next_member(r, &name) == 1) {
		if (JSON_STR_IS(&name, "kind")) {
			/* The first "kind" is the one cJSON would find: not a string, and there is none (errors in r->err). */
			decode_copy(r, buf, len, &is_string);
			break;
		}
		if (json_skip(r))
			break;
	}
	if (r->err)
		return r->err;
	json_seek(r, start);
	return is_string;
}
