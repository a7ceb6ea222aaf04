// SPDX-License-Identifier: Apache-2.0
/* The daemon's object store: keys, revisions, complete lists, change events. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "k8s_object.h"
#include "log.h"
#include "store.h"

static cJSON *obj(const char *ns, const char *name, const char *extra)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"%s}}", name, ns, extra);
	return cJSON_Parse(text);
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
	assert_int_equal(store_upsert(s, K8S_SERVICE, obj("a", "web", "")), 0);
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
	assert_int_equal(store_upsert(s, K8S_SERVICE, obj("a", "web", "")), 0);
	assert_false(readable(s));
	assert_int_equal(take(s, NULL), 0);

	assert_int_equal(store_upsert(s, K8S_SERVICE, obj("a", "web", ",\"labels\":{\"x\":\"y\"}")), 0);
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
	assert_int_equal(store_upsert(s, K8S_SERVICE, cJSON_Parse("{\"metadata\":{}}")), -EINVAL);
	assert_int_equal(store_upsert(s, K8S_SERVICE, cJSON_Parse("{\"spec\":{}}")), -EINVAL);
	store_free(s);
}

static int count(const cJSON *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static void test_replace_and_complete(void **state)
{
	struct store *s = store_new();
	cJSON *items = cJSON_CreateArray();
	int n = 0;

	(void)state;
	assert_int_equal(store_upsert(s, K8S_SERVICE, obj("a", "old", "")), 0);
	assert_int_equal(store_upsert(s, K8S_SERVICE, obj("a", "one", "")), 0);
	assert_int_equal(take(s, NULL), 2);
	cJSON_AddItemToArray(items, obj("a", "one", ""));
	cJSON_AddItemToArray(items, obj("b", "two", ""));
	assert_int_equal(store_replace(s, K8S_SERVICE, items), 0);
	/* The items moved into the store; the array stays the caller's. */
	assert_int_equal(cJSON_GetArraySize(items), 0);
	cJSON_Delete(items);
	store_lock(s);
	assert_null(store_get(s, K8S_SERVICE, "a", "old"));
	assert_non_null(store_get(s, K8S_SERVICE, "b", "two"));
	store_foreach(s, K8S_SERVICE, count, &n);
	store_unlock(s);
	assert_int_equal(n, 2);
	/* "old" went, "two" came; "one" was listed unchanged. */
	assert_int_equal(take(s, NULL), 2);

	assert_false(store_complete(s));
	assert_int_equal(store_replace(s, K8S_ENDPOINTSLICE, NULL), 0);
	assert_int_equal(store_replace(s, K8S_NAMESPACE, NULL), 0);
	assert_false(store_complete(s));
	assert_int_equal(store_replace(s, K8S_NODE, NULL), 0);
	assert_true(store_complete(s));
	store_free(s);
}

/* managedFields and kubectl's last-applied copy are dropped: they are most of a real object's size. */
static void test_trims_bookkeeping(void **state)
{
	struct store *s = store_new();
	const cJSON *o;

	(void)state;
	assert_int_equal(
		store_upsert(s, K8S_SERVICE,
			     obj("a", "web",
				 ",\"managedFields\":[{\"manager\":\"kubectl\"}],\"annotations\":{"
				 "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"keep\":\"me\"}")),
		0);
	store_lock(s);
	o = store_get(s, K8S_SERVICE, "a", "web");
	assert_null(k8s_field(k8s_field(o, "metadata"), "managedFields"));
	assert_null(k8s_annotation(o, "kubectl.kubernetes.io/last-applied-configuration"));
	assert_string_equal(k8s_annotation(o, "keep"), "me");
	store_unlock(s);
	store_free(s);
}

static void test_cluster_scoped_and_kind_names(void **state)
{
	struct store *s = store_new();
	cJSON *node = cJSON_Parse("{\"metadata\":{\"name\":\"node-a\"}}");

	(void)state;
	assert_int_equal(store_upsert(s, K8S_NODE, node), 0);
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
		cmocka_unit_test(test_upsert_get_delete),
		cmocka_unit_test(test_rejects_nameless),
		cmocka_unit_test(test_replace_and_complete),
		cmocka_unit_test(test_trims_bookkeeping),
		cmocka_unit_test(test_cluster_scoped_and_kind_names),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
