// SPDX-License-Identifier: Apache-2.0
/*
 * Service and EndpointSlice changes counted as kube-proxy counts them, fed
 * through a real store: totals, pending counts, trigger times; and the
 * rendering of the families.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "change_tracker.h"
#include "store.h"

/* 2024-05-01T10:00:00Z */
#define START 1714557600.0

static cJSON *slice(const char *name, const char *service, const char *type, const char *trigger, const char *ip)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"kind\":\"EndpointSlice\",\"metadata\":{\"namespace\":\"shop\",\"name\":\"%s\",\"labels\":{%s%s%s}"
		 "%s%s%s},\"addressType\":\"%s\",\"endpoints\":[{\"addresses\":[\"%s\"]}]}",
		 name, service ? "\"kubernetes.io/service-name\":\"" : "", service ? service : "", service ? "\"" : "",
		 trigger ? ",\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":\"" : "",
		 trigger ? trigger : "", trigger ? "\"}" : "", type, ip);
	return cJSON_Parse(text);
}

static cJSON *service(const char *name, const char *ip)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"kind\":\"Service\",\"metadata\":{\"namespace\":\"shop\",\"name\":\"%s\"},\"spec\":{\"clusterIP\":"
		 "\"%s\"}}",
		 name, ip);
	return cJSON_Parse(text);
}

struct fixture {
	struct store *s;
	struct change_tracker *ct;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->s = store_new();
	f->ct = change_tracker_new(START);
	store_set_observer(f->s, change_tracker_observe, f->ct);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->s);
	change_tracker_free(f->ct);
	free(f);
	return 0;
}

static struct change_counts counts(struct fixture *f)
{
	struct change_counts c;

	change_tracker_counts(f->ct, &c);
	return c;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Take the changes; the trigger times sorted, as seconds after START, into want-sized out. */
static size_t take(struct fixture *f, double *out, size_t max)
{
	double *times;
	size_t n;

	assert_int_equal(change_tracker_take(f->ct, &times, &n), 0);
	assert_true(n <= max);
	if (n)
		qsort(times, n, sizeof(*times), cmp_double);
	for (size_t i = 0; i < n; i++)
		out[i] = times[i] - START;
	free(times);
	return n;
}

static void test_endpoint_changes(void **state)
{
	struct fixture *f = *state;
	double t[8];

	/* three events that change the store, one identical re-delivery */
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("web-a", "web", "IPv4", "2024-05-01T10:00:05Z", "10.244.1.2")),
			 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("web-a", "web", "IPv4", "2024-05-01T10:00:07.5Z", "10.244.1.3")),
			 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("web-a", "web", "IPv4", "2024-05-01T10:00:07.5Z", "10.244.1.3")),
			 0);
	assert_int_equal(
		store_upsert(f->s, K8S_ENDPOINTSLICE, slice("db-a", "db", "IPv6", "2024-05-01T10:00:09Z", "fd00::9")),
		0);
	assert_int_equal(counts(f).endpoint_changes_total, 4);
	assert_int_equal(counts(f).endpoint_changes_pending, 3);
	assert_true(counts(f).last_queued > START);
	/* each change's trigger time, the two of one slice both */
	assert_int_equal(take(f, t, 8), 3);
	assert_true(t[0] == 5 && t[1] == 7.5 && t[2] == 9);
	assert_int_equal(counts(f).endpoint_changes_pending, 0);
	assert_int_equal(counts(f).endpoint_changes_total, 4);
	assert_int_equal(take(f, t, 8), 0);
}

static void test_what_is_not_counted(void **state)
{
	struct fixture *f = *state;
	double t[4];

	/* no service-name label, or an address type kube-proxy does not read: not an endpoint change at all */
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("orphan", NULL, "IPv4", NULL, "10.244.1.2")), 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("fqdn", "web", "FQDN", NULL, "example.com")), 0);
	assert_int_equal(counts(f).endpoint_changes_total, 0);
	/* a trigger time before the daemon started, a missing one, a malformed one: counted, no time */
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("old", "web", "IPv4", "2024-05-01T09:59:59Z", "10.244.1.2")),
			 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("none", "web", "IPv4", NULL, "10.244.1.3")), 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("bad", "web", "IPv4", "yesterday", "10.244.1.4")),
			 0);
	assert_int_equal(counts(f).endpoint_changes_total, 3);
	assert_int_equal(counts(f).endpoint_changes_pending, 3);
	assert_int_equal(take(f, t, 4), 0);
}

/* A deleted slice drops its Service's pending trigger times (its annotation dates from its last update). */
static void test_deletion_drops_the_service_times(void **state)
{
	struct fixture *f = *state;
	cJSON *items = cJSON_CreateArray();
	double t[4];

	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("web-a", "web", "IPv4", "2024-05-01T10:00:01Z", "10.244.1.2")),
			 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("web-b", "web", "IPv4", "2024-05-01T10:00:02Z", "10.244.1.3")),
			 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE,
				      slice("db-a", "db", "IPv4", "2024-05-01T10:00:03Z", "10.244.1.4")),
			 0);
	assert_int_equal(store_delete(f->s, K8S_ENDPOINTSLICE, "shop", "web-a"), 0);
	assert_int_equal(counts(f).endpoint_changes_pending, 4);
	assert_int_equal(take(f, t, 4), 1);
	assert_true(t[0] == 3);

	/* a relist: unchanged items count as events, a missing one as a deletion */
	cJSON_AddItemToArray(items, slice("db-a", "db", "IPv4", "2024-05-01T10:00:03Z", "10.244.1.4"));
	assert_int_equal(store_replace(f->s, K8S_ENDPOINTSLICE, items), 0);
	cJSON_Delete(items);
	assert_int_equal(counts(f).endpoint_changes_total, 4 + 2);
	assert_int_equal(counts(f).endpoint_changes_pending, 1);
}

static void test_service_changes(void **state)
{
	struct fixture *f = *state;
	double t[2];

	assert_int_equal(store_upsert(f->s, K8S_SERVICE, service("web", "10.96.0.10")), 0);
	assert_int_equal(store_upsert(f->s, K8S_SERVICE, service("web", "10.96.0.11")), 0);
	assert_int_equal(store_upsert(f->s, K8S_SERVICE, service("web", "10.96.0.11")), 0);
	assert_int_equal(store_upsert(f->s, K8S_SERVICE, service("db", "10.96.0.12")), 0);
	/* every event; pending: the Services that changed */
	assert_int_equal(counts(f).service_changes_total, 4);
	assert_int_equal(counts(f).service_changes_pending, 2);
	assert_int_equal(take(f, t, 2), 0);
	assert_int_equal(counts(f).service_changes_pending, 0);
	assert_int_equal(store_delete(f->s, K8S_SERVICE, "shop", "db"), 0);
	assert_int_equal(store_delete(f->s, K8S_SERVICE, "shop", "db"), 0);
	assert_int_equal(counts(f).service_changes_total, 5);
	assert_int_equal(counts(f).service_changes_pending, 1);
}

static void test_collect(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	double t[2];

	assert_int_equal(store_upsert(f->s, K8S_SERVICE, service("web", "10.96.0.10")), 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("web-a", "web", "IPv4", NULL, "10.244.1.2")), 0);
	assert_int_equal(store_upsert(f->s, K8S_ENDPOINTSLICE, slice("web-a", "web", "IPv4", NULL, "10.244.1.3")), 0);
	out = open_memstream(&text, &len);
	change_tracker_collect(out, f->ct);
	fclose(out);
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_endpoint_changes_pending gauge\n"
				     "socklb_sync_proxy_rules_endpoint_changes_pending 2\n"));
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_endpoint_changes_total counter\n"
				     "socklb_sync_proxy_rules_endpoint_changes_total 2\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_service_changes_pending 1\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_service_changes_total 1\n"));
	assert_non_null(strstr(text, "# TYPE socklb_sync_proxy_rules_last_queued_timestamp_seconds gauge\n"));
	free(text);
	take(f, t, 2);
	text = NULL;
	out = open_memstream(&text, &len);
	change_tracker_collect(out, f->ct);
	fclose(out);
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_endpoint_changes_pending 0\n"));
	assert_non_null(strstr(text, "socklb_sync_proxy_rules_endpoint_changes_total 2\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_endpoint_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_is_not_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletion_drops_the_service_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
