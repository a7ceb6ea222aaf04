// SPDX-License-Identifier: Apache-2.0
#include "k8s_namespace.h"

#include <string.h>

#include "k8s_decode_impl.h"
#include "socklb.h"

struct namespace_draft {
	bool seen;
	bool annotated;
	__u32 opt_in;
};

static void namespace_begin(void *draft)
{
	memset(draft, 0, sizeof(struct namespace_draft));
}

static int namespace_member(void *draft, struct json_reader *r, const struct json_str *name,
			    struct k8s_decode_info *info)
{
	(void)draft;
	(void)name;
	(void)info;
	return json_skip(r);
}

static int namespace_annotation(void *draft, struct json_reader *r, const struct json_str *key)
{
	struct namespace_draft *d = draft;
	char value[8];
	bool is_string;

	if (!JSON_STR_IS(key, SOCKLB_ANNOTATION_ENABLED) || d->seen)
		return json_skip(r);
	d->seen = true;
	if (decode_copy(r, value, sizeof(value), &is_string))
		return r->err;
	/* Exactly, as Kubernetes booleans go: "True" or "yes" say nothing. */
	if (is_string && strcmp(value, "true") == 0) {
		d->annotated = true;
		d->opt_in = SOCKLB_NS_OPTED_IN;
	} else if (is_string && strcmp(value, "false") == 0) {
		d->annotated = true;
		d->opt_in = SOCKLB_NS_OPTED_OUT;
	}
	return 0;
}

static int namespace_finish(void *draft, struct json_reader *r, struct k8s_meta *meta, struct k8s_object **out)
{
	struct namespace_draft *d = draft;
	struct k8s_namespace *ns;

	(void)r;
	ns = (struct k8s_namespace *)k8s_object_alloc(K8S_NAMESPACE, sizeof(*ns), meta->ns, meta->name);
	if (!ns)
		return -1;
	meta->ns = meta->name = NULL;
	ns->annotated = d->annotated;
	ns->opt_in = d->opt_in;
	*out = &ns->obj;
	return 0;
}

static void namespace_release(void *draft)
{
	(void)draft;
}

const struct kind_decoder k8s_namespace_decoder = {
	.scratch_size = sizeof(struct namespace_draft),
	.begin = namespace_begin,
	.member = namespace_member,
	.annotation = namespace_annotation,
	.finish = namespace_finish,
	.release = namespace_release,
	.free = namespace_release,
};
