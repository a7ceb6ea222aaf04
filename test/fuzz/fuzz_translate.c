// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes objects the daemon translates (Service, EndpointSlice,
 * Namespace, Node), from documents as the file source and the API deliver
 * them, through the store into the incrementally kept desired state.
 *
 * Input: documents separated by a line "---". The first is the complete
 * initial list (store_replace for every kind); each later one is applied as
 * watch events: its objects upserted, or deleted when the document starts
 * with '-'. After every step the desired state must be well formed (backends
 * sorted, unique, of the frontend's family; lookups agree with the walk), and
 * at the end, when every Service in the store is valid, the incrementally
 * updated state must equal one built from scratch from a copy of the store
 * (the store's change feed has one reader: a second desired state on the
 * same store would see no change).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "desired_state.h"
#include "fuzz_common.h"
#include "k8s_object.h"
#include "object_list.h"
#include "store.h"
#include "translate.h"

#define NODE "node-a"
#define SEPARATOR "\n---\n"

static const struct translate_config cfg = { .node_name = NODE };

struct walk {
	const struct desired_state *d;
	const struct desired_state *other; /* compare against it when set */
	size_t n;
};

static int check_frontend(const struct desired_frontend *df, void *ctx)
{
	struct walk *w = ctx;
	bool v4 = socklb_addr_is_v4(df->fe.addr);
	const struct desired_frontend *again, *theirs;
	const char *owner, *their_owner;

	w->n++;
	if (df->fe.proto != SOCKLB_PROTO_TCP && df->fe.proto != SOCKLB_PROTO_UDP)
		abort();
	if (df->n_backends && !df->backends)
		abort();
	for (__u32 i = 0; i < df->n_backends; i++) {
		if (socklb_addr_is_v4(df->backends[i].addr) != v4)
			abort(); /* a frontend only gets backends of its own family */
		if (i && endpoint_cmp(&df->backends[i - 1], &df->backends[i]) >= 0)
			abort(); /* sorted and unique */
	}
	again = desired_state_lookup(w->d, &df->fe, &owner);
	if (again != df || !owner)
		abort();
	if (w->other) {
		theirs = desired_state_lookup(w->other, &df->fe, &their_owner);
		if (!theirs || theirs->n_backends != df->n_backends ||
		    theirs->affinity_timeout != df->affinity_timeout || strcmp(owner, their_owner) != 0 ||
		    (df->n_backends &&
		     memcmp(theirs->backends, df->backends, df->n_backends * sizeof(*df->backends)) != 0))
			abort();
	}
	return 0;
}

static void check_state(const struct desired_state *d, const struct desired_state *other)
{
	struct walk w = { .d = d, .other = other };

	if (desired_state_foreach(d, check_frontend, &w) != 0 || w.n != desired_state_count(d))
		abort();
	if (other && desired_state_count(other) != w.n)
		abort();
}

static void update(struct desired_state *d, struct store *s)
{
	struct desired_update u;

	store_lock(s);
	if (desired_state_update(d, s, &u) != 0)
		abort();
	store_unlock(s);
	for (size_t i = 0; i < u.touched.n; i++) {
		char buf[FRONTEND_STRLEN];

		frontend_format(&u.touched.items[i], buf, sizeof(buf));
	}
	desired_update_release(&u);
	check_state(d, NULL);
}

/* Apply one later document as watch events. */
static void apply(struct store *s, const char *text, size_t len)
{
	bool delete = len && text[0] == '-';
	struct object_batch b;

	if (object_batch_init(&b))
		abort();
	if (delete) {
		text++;
		len--;
	}
	object_list_parse(text, len, "fuzz", &b);
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		cJSON *item;

		while ((item = b.items[k]->child)) {
			item = cJSON_DetachItemViaPointer(b.items[k], item);
			if (delete) {
				if (k8s_name(item))
					store_delete(s, (enum k8s_kind)k, k8s_namespace(item), k8s_name(item));
				cJSON_Delete(item);
			} else {
				store_upsert(s, (enum k8s_kind)k, item);
			}
		}
	}
	object_batch_release(&b);
}

/* The EndpointSlices of a Service: its namespace, labelled with its name. */
struct slices {
	const cJSON *svc;
	const cJSON **items;
	size_t n;
};

static int collect_slice(const cJSON *slice, void *ctx)
{
	struct slices *sl = ctx;
	const char *label = k8s_label(slice, K8S_LABEL_SERVICE_NAME);

	if (!label || strcmp(label, k8s_name(sl->svc)) != 0 ||
	    strcmp(k8s_namespace(slice), k8s_namespace(sl->svc)) != 0)
		return 0;
	sl->items = realloc(sl->items, (sl->n + 1) * sizeof(const cJSON *));
	if (!sl->items)
		abort();
	sl->items[sl->n++] = slice;
	return 0;
}

struct validity {
	struct store *s;
	const struct node_view *node;
	bool all_valid;
};

static int check_service_valid(const cJSON *svc, void *ctx)
{
	struct validity *v = ctx;
	struct slices sl = { .svc = svc };
	struct service_frontends out = { 0 };

	store_foreach(v->s, K8S_ENDPOINTSLICE, collect_slice, &sl);
	if (translate_service(svc, sl.items, sl.n, v->node, &cfg, &out) < 0)
		v->all_valid = false;
	service_frontends_release(&out);
	free(sl.items);
	return 0;
}

/* Is every Service valid now? Only then must the incremental state equal a fresh one. */
static bool all_services_valid(struct store *s)
{
	struct node_view node;
	struct validity v = { .s = s, .node = &node, .all_valid = true };

	store_lock(s);
	if (node_view_init(&node, store_get(s, K8S_NODE, "", NODE)))
		abort();
	store_foreach(s, K8S_SERVICE, check_service_valid, &v);
	node_view_release(&node);
	store_unlock(s);
	return v.all_valid;
}

static int copy_object(const cJSON *obj, void *ctx)
{
	cJSON *copy = cJSON_Duplicate(obj, true);

	if (!copy || !cJSON_AddItemToArray(ctx, copy))
		abort();
	return 0;
}

/* A new store holding what s holds, every kind listed. */
static struct store *store_copy(struct store *s)
{
	struct store *copy = store_new();

	if (!copy)
		abort();
	store_lock(s);
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		cJSON *items = cJSON_CreateArray();

		if (!items)
			abort();
		store_foreach(s, (enum k8s_kind)k, copy_object, items);
		store_replace(copy, (enum k8s_kind)k, items);
		cJSON_Delete(items);
	}
	store_unlock(s);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = text + size, *sep;
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&cfg), *fresh;
	struct object_batch b;
	bool first = true;

	fuzz_logs_quiet();
	if (!s || !d)
		abort();
	while (text <= end) {
		size_t len;

		sep = memmem(text, (size_t)(end - text), SEPARATOR, strlen(SEPARATOR));
		len = sep ? (size_t)(sep - text) : (size_t)(end - text);
		if (first) {
			if (object_batch_init(&b))
				abort();
			object_list_parse(text, len, "fuzz", &b);
			for (int k = 0; k < K8S_KIND_COUNT; k++)
				store_replace(s, (enum k8s_kind)k, b.items[k]);
			object_batch_release(&b);
			first = false;
		} else {
			apply(s, text, len);
		}
		update(d, s);
		if (!sep)
			break;
		text = sep + strlen(SEPARATOR);
	}

	if (all_services_valid(s)) {
		struct store *copy = store_copy(s);

		fresh = desired_state_new(&cfg);
		if (!fresh)
			abort();
		update(fresh, copy);
		check_state(d, fresh);
		check_state(fresh, d);
		desired_state_free(fresh);
		store_free(copy);
	}
	desired_state_free(d);
	store_free(s);
	return 0;
}
