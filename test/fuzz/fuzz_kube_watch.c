// SPDX-License-Identifier: Apache-2.0
/*
 * What the API server sends, as the watcher thread handles it: a LIST page
 * (pieces appended, decoded, its objects into the store with store_replace)
 * or a watch stream (pieces through the framer into the event handler,
 * events into store_upsert/store_delete), then the translation of whatever
 * the store holds. The watcher's own file is compiled in so that its static
 * handlers run exactly as in the daemon; no connection is made.
 *
 * Input: byte 0 = kind (bits 0-1) and LIST page instead of watch (bit 2),
 * then the body.
 */
#include <stdint.h>

/* The watcher itself, for its static stream and list handlers (hack/fuzz.sh links no other copy). */
#include "../../pinned-maps-daemon/source/kube/kube_watch.c" // NOLINT(bugprone-suspicious-include)

#include "desired_state.h"
#include "fuzz_common.h"

struct count_ctx {
	size_t n;
};

static int count_object(const struct k8s_object *obj, void *ctx)
{
	struct count_ctx *c = ctx;

	/* the store refuses objects without a name */
	if (!obj->name || !obj->name[0])
		abort();
	c->n++;
	return 0;
}

static void feed_list_page(struct kube_watcher *w, const char *data, size_t len)
{
	struct body body = { 0 };
	struct object_list objs = { 0 };
	char *cont = NULL;
	size_t off = 0;

	while (off < len) {
		size_t piece = len - off < 1000 ? len - off : 1000;

		if (body_append(data + off, piece, &body))
			abort();
		off += piece;
	}
	if (body.data && take_page(w, body.data, body.len, &objs, &cont) == 0) {
		store_replace(w->env->store, w->kind, objs.items, objs.n);
		objs.n = 0;
	}
	object_list_release(&objs);
	free(cont);
	free(body.data);
}

static void feed_watch_stream(struct kube_watcher *w, const char *data, size_t len)
{
	size_t off = 0, piece = 1;
	int ret = 0;

	kube_framer_init(&w->framer, 0);
	while (off < len && ret == 0) {
		/* pieces of 1, 2, 3, ... bytes: every boundary position gets its turn */
		if (piece > len - off)
			piece = len - off;
		ret = on_stream(data + off, piece, w);
		off += piece;
		piece = piece % 97 + 1;
	}
	if (ret != 0 && ret != STREAM_GONE && ret != STREAM_FAILED && ret != STREAM_UNDECODABLE && ret != -E2BIG)
		abort();
	kube_framer_free(&w->framer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct translate_config cfg = { .node_name = "node-a" };
	struct kube_watch_env env = { 0 };
	struct kube_watcher w = { .env = &env };
	struct desired_update u;
	struct desired_state *d;
	struct count_ctx count = { 0 };

	if (size < 1)
		return 0;
	fuzz_logs_quiet();
	env.store = store_new();
	if (!env.store)
		abort();
	w.kind = (enum k8s_kind)(data[0] & 3);
	w.resource = resource_name(w.kind);
	w.decoder = k8s_decoder_new();
	if (!w.decoder)
		abort();
	if (data[0] & 4)
		feed_list_page(&w, (const char *)data + 1, size - 1);
	else
		feed_watch_stream(&w, (const char *)data + 1, size - 1);

	store_lock(env.store);
	store_foreach(env.store, w.kind, count_object, &count);
	d = desired_state_new(&cfg);
	if (!d || desired_state_update(d, env.store, &u))
		abort();
	desired_update_release(&u);
	desired_state_free(d);
	store_unlock(env.store);

	free(w.rv);
	k8s_decoder_free(w.decoder);
	json_reader_release(&w.reader);
	store_free(env.store);
	return 0;
}
