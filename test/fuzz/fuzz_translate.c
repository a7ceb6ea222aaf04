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
 * updated state must equal one built from scratch on a second store that got
 * the same documents without a pass in between (the store's change feed has
 * one reader: a second desired state on the same store would see no change).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "desired_state.h"
#include "fuzz_common.h"
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
	const struct service_key *owner, *their_owner;

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
		    theirs->affinity_timeout != df->affinity_timeout || owner->ns != their_owner->ns ||
		    owner->name != their_owner->name ||
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
static void apply(struct object_parser *p, struct store *s, const char *text, size_t len)
{
	bool delete = len && text[0] == '-';
	struct object_batch b = { 0 };

	if (delete) {
		text++;
		len--;
	}
	object_list_parse(p, text, len, "fuzz", &b);
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		for (size_t i = 0; i < b.n[k]; i++) {
			struct k8s_object *obj = b.items[k][i];

			if (delete) {
				if (obj->name)
					store_delete(s, (enum k8s_kind)k, obj->ns, obj->name);
				k8s_object_free(obj);
			} else {
				store_upsert(s, obj);
			}
		}
		b.n[k] = 0;
	}
	object_batch_release(&b);
}

/* The first document: the complete initial list of every kind. */
static void replace_all(struct object_parser *p, struct store *s, const char *text, size_t len)
{
	struct object_batch b = { 0 };

	object_list_parse(p, text, len, "fuzz", &b);
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		store_replace(s, (enum k8s_kind)k, b.items[k], b.n[k]);
		b.n[k] = 0;
	}
	object_batch_release(&b);
}

struct validity {
	struct store *s;
	const struct node_view *node;
	bool all_valid;
};

static int check_service_valid(const struct k8s_object *obj, void *ctx)
{
	struct validity *v = ctx;
	const struct k8s_slice *slices[64];
	struct service_frontends out = { 0 };
	size_t n = 0;

	for (const struct k8s_slice *sl = store_service_slices(v->s, obj->ns, obj->name); sl;
	     sl = (const struct k8s_slice *)sl->obj.link) {
		if (n == 64) {
			/* Too many to check here: not known to be valid. */
			v->all_valid = false;
			return 0;
		}
		slices[n++] = sl;
	}
	if (translate_service((const struct k8s_service *)obj, slices, n, v->node, &cfg, &out) < 0)
		v->all_valid = false;
	service_frontends_release(&out);
	return 0;
}

/* Is every Service valid now? Only then must the incremental state equal a fresh one. */
static bool all_services_valid(struct store *s)
{
	struct node_view node;
	struct validity v = { .s = s, .node = &node, .all_valid = true };

	store_lock(s);
	node_view_init(&node, (const struct k8s_node *)store_get(s, K8S_NODE, "", NODE));
	store_foreach(s, K8S_SERVICE, check_service_valid, &v);
	store_unlock(s);
	return v.all_valid;
}

/* Each document into each store; the first desired state is brought up to date after every one. */
static void feed(struct object_parser *p, struct store *s, struct store *copy, struct desired_state *d,
		 const char *text, size_t size)
{
	const char *end = text + size, *sep;
	bool first = true;

	while (text <= end) {
		size_t len;

		sep = memmem(text, (size_t)(end - text), SEPARATOR, strlen(SEPARATOR));
		len = sep ? (size_t)(sep - text) : (size_t)(end - text);
		if (first) {
			replace_all(p, s, text, len);
			replace_all(p, copy, text, len);
			first = false;
		} else {
			apply(p, s, text, len);
			apply(p, copy, text, len);
		}
		update(d, s);
		if (!sep)
			break;
		text = sep + strlen(SEPARATOR);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *s = store_new(), *copy = store_new();
	struct desired_state *d = desired_state_new(&cfg), *fresh;
	struct object_parser p;

	fuzz_logs_quiet();
	if (!s || !copy || !d || object_parser_init(&p))
		abort();
	feed(&p, s, copy, d, (const char *)data, size);
	if (all_services_valid(s)) {
		fresh = desired_state_new(&cfg);
		if (!fresh)
			abort();
		update(fresh, copy);
		check_state(d, fresh);
		check_state(fresh, d);
		desired_state_free(fresh);
	}
	object_parser_release(&p);
	desired_state_free(d);
	store_free(copy);
	store_free(s);
	return 0;
}
