// SPDX-License-Identifier: Apache-2.0
/* The daemon's object store: keys, changes, complete lists, change events, slices by Service. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "intern.h"
#include "log.h"
#include "store.h"
#include "test_syncd_fixtures.h"

static struct k8s_object *obj(const char *ns, const char *name, const char *extra)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"%s}}", name, ns, extra);
	return from_text(K8S_SERVICE, text);
}

static struct k8s_object *slice(const char *ns, const char *name, const char *service)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{\"" K8S_LABEL_SERVICE_NAME
		 "\":\"%s\"}},\"addressType\":\"IPv4\"}",
		 name, ns, service);
	return from_text(K8S_ENDPOINTSLICE, text);
}

static bool readable(const struct store *s)
{
	struct pollfd pfd = { .fd = store_event_fd(s), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

struct changes {
	char seen[8][64];
	int n;
};

static int note(enum k8s_kind kind, const char *ns, const char *name, void *ctx)
{
	struct changes *c = ctx;

	if (c->n < 8)
		snprintf(c->seen[c->n++], 64, "%s %s/%s", k8s_kind_name(kind), ns, name);
	return 0;
}

/* The changes since the last take, as a count; the first one in *first. */
static int take(struct store *s, char *first)
{
	struct changes c = { .n = 0 };

	store_lock(s);
	assert_int_equal(store_take_changes(s, note, &c), 0);
	store_unlock(s);
	if (first)
		snprintf(first, 64, "%s", c.n ? c.seen[0] : "");
	return c.n;
}

static void test_upsert_get_delete(void **state)
{
	struct store *s = store_new();
	char first[64];

	(void)state;
	assert_false(readable(s));
	assert_int_equal(store_upsert(s, obj("a", "web", "")), 0);
	assert_true(readable(s));
	store_drain_events(s);
	assert_false(readable(s));
	assert_int_equal(take(s, first), 1);
	assert_string_equal(first, "Service a/web");
	assert_int_equal(take(s, NULL), 0);

	store_lock(s);
	assert_non_null(store_get(s, K8S_SERVICE, "a", "web"));
	assert_null(store_get(s, K8S_SERVICE, "b", "web"));
	assert_null(store_get(s, K8S_ENDPOINTSLICE, "a", "web"));
	store_unlock(s);

	/* The same object again changes nothing: no change recorded, no event. */
	assert_int_equal(store_upsert(s, obj("a", "web", "")), 0);
	assert_false(readable(s));
	assert_int_equal(take(s, NULL), 0);

	assert_int_equal(store_upsert(s, obj("a", "web", ",\"labels\":{\"" K8S_LABEL_SERVICE_PROXY_NAME "\":\"y\"}")),
			 0);
	assert_true(readable(s));
	assert_int_equal(take(s, NULL), 1);

	assert_int_equal(store_delete(s, K8S_SERVICE, "a", "web"), 0);
	assert_int_equal(store_delete(s, K8S_SERVICE, "a", "web"), 0);
	assert_int_equal(take(s, first), 1);
	assert_string_equal(first, "Service a/web");
	store_lock(s);
	assert_null(store_get(s, K8S_SERVICE, "a", "web"));
	store_unlock(s);
	store_free(s);
}

static void test_rejects_nameless(void **state)
{
	struct store *s = store_new();

	(void)state;
	assert_int_equal(store_upsert(s, from_text(K8S_SERVICE, "{\"metadata\":{}}")), -EINVAL);
	assert_int_equal(store_upsert(s, from_text(K8S_SERVICE, "{\"spec\":{}}")), -EINVAL);
	assert_int_equal(store_upsert(s, from_text(K8S_SERVICE, "{\"metadata\":{\"name\":7}}")), -EINVAL);
	store_free(s);
}

static int count(const struct k8s_object *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static void test_replace_and_complete(void **state)
{
	struct store *s = store_new();
	struct k8s_object *items[2];
	int n = 0;

	(void)state;
	assert_int_equal(store_upsert(s, obj("a", "old", "")), 0);
	assert_int_equal(store_upsert(s, obj("a", "one", "")), 0);
	assert_int_equal(take(s, NULL), 2);
	items[0] = obj("a", "one", "");
	items[1] = obj("b", "two", "");
	/* The objects move into the store; the array stays the caller's. */
	assert_int_equal(store_replace(s, K8S_SERVICE, items, 2), 0);
	store_lock(s);
	assert_null(store_get(s, K8S_SERVICE, "a", "old"));
	assert_non_null(store_get(s, K8S_SERVICE, "b", "two"));
	store_foreach(s, K8S_SERVICE, count, &n);
	store_unlock(s);
	assert_int_equal(n, 2);
	/* "old" went, "two" came; "one" was listed unchanged. */
	assert_int_equal(take(s, NULL), 2);

	assert_false(store_complete(s));
	assert_int_equal(store_replace(s, K8S_ENDPOINTSLICE, NULL, 0), 0);
	assert_int_equal(store_replace(s, K8S_NAMESPACE, NULL, 0), 0);
	assert_false(store_complete(s));
	assert_int_equal(store_replace(s, K8S_NODE, NULL, 0), 0);
	assert_true(store_complete(s));
	store_free(s);
}

/*
 * The compact form keeps what translation reads: a change to anything else
 * (managedFields, kubectl's last-applied copy, the uid, other labels and
 * annotations) is no change, and wakes nobody.
 */
static void test_only_what_translation_reads(void **state)
{
	struct store *s = store_new();

	(void)state;
	assert_int_equal(store_upsert(s, obj("a", "web", "")), 0);
	store_drain_events(s);
	assert_int_equal(take(s, NULL), 1);
	assert_int_equal(
		store_upsert(
			s,
			obj("a", "web",
			    ",\"managedFields\":[{\"manager\":\"kubectl\"}],\"uid\":\"u\",\"annotations\":{"
			    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"},\"labels\":{\"app\":\"x\"}")),
		0);
	assert_false(readable(s));
	assert_int_equal(take(s, NULL), 0);
	store_free(s);
}

/* The EndpointSlices of a Service, by their label, follow upserts, relabels and deletes. */
static void test_slices_by_service(void **state)
{
	struct store *s = store_new();
	const char *ns = intern("a", 1), *web = intern("web", 3), *api = intern("api", 3);
	const struct k8s_slice *sl;

	(void)state;
	assert_int_equal(store_upsert(s, slice("a", "web-1", "web")), 0);
	assert_int_equal(store_upsert(s, slice("a", "web-2", "web")), 0);
	assert_int_equal(store_upsert(s, slice("b", "web-3", "web")), 0);
	store_lock(s);
	sl = store_service_slices(s, ns, web);
	assert_non_null(sl);
	assert_non_null(sl->obj.link);
	assert_null(sl->obj.link->link);
	assert_null(store_service_slices(s, ns, api));
	store_unlock(s);

	/* Relabelled: it moves to the other Service. */
	assert_int_equal(store_upsert(s, slice("a", "web-2", "api")), 0);
	assert_int_equal(store_delete(s, K8S_ENDPOINTSLICE, "a", "web-1"), 0);
	store_lock(s);
	assert_null(store_service_slices(s, ns, web));
	sl = store_service_slices(s, ns, api);
	assert_non_null(sl);
	assert_string_equal(sl->obj.name, "web-2");
	assert_null(sl->obj.link);
	store_unlock(s);
	store_free(s);
	intern_put(ns);
	intern_put(web);
	intern_put(api);
}

static void test_cluster_scoped_and_kind_names(void **state)
{
	struct store *s = store_new();

	(void)state;
	assert_int_equal(store_upsert(s, from_text(K8S_NODE, "{\"metadata\":{\"name\":\"node-a\"}}")), 0);
	store_lock(s);
	assert_non_null(store_get(s, K8S_NODE, "", "node-a"));
	assert_non_null(store_get(s, K8S_NODE, NULL, "node-a"));
	store_unlock(s);
	assert_string_equal(k8s_kind_name(K8S_ENDPOINTSLICE), "EndpointSlice");
	assert_int_equal(k8s_kind_parse("Namespace"), K8S_NAMESPACE);
	assert_int_equal(k8s_kind_parse("Pod"), -1);
	assert_int_equal(k8s_list_kind_parse("NodeList"), K8S_NODE);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsert_get_delete),    cmocka_unit_test(test_rejects_nameless),
		cmocka_unit_test(test_replace_and_complete), cmocka_unit_test(test_only_what_translation_reads),
		cmocka_unit_test(test_slices_by_service),    cmocka_unit_test(test_cluster_scoped_and_kind_names),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
