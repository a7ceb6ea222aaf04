// SPDX-License-Identifier: Apache-2.0
/*
 * ADD's result: prevResult converted to the configuration's cniVersion, for
 * every pair of supported versions (IPv4 and IPv6 addresses), the 1.1.0
 * fields going down, what cannot be converted (error 7 naming the field).
 */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cni_result.h"
#include "cni_version.h"
#include "log.h"
#include "request.h"

#define PAIRS (5 * 5)

struct pair {
	const char *from, *to;
	char name[32];
};

static bool has_1_1_fields(const char *version)
{
	return cni_version_at_least(version, "1.1.0");
}

/*
 * A result as a plugin answering in version writes it: an IPv4 and an IPv6
 * address, routes, DNS; ips[].version in 0.x; with_1_1 adds every 1.1.0 field.
 */
static cJSON *result_at(const char *version, bool with_1_1)
{
	bool v0 = !cni_version_at_least(version, "1.0.0");
	char text[2048];
	cJSON *doc;

	snprintf(text, sizeof(text),
		 "{\"cniVersion\": \"%s\","
		 " \"interfaces\": [{\"name\": \"eth0\", \"mac\": \"0a:58:0a:f4:01:05\", \"sandbox\": "
		 "\"/var/run/netns/p\"%s},"
		 "                {\"name\": \"veth1234\", \"mac\": \"6e:1d:2c:3b:4a:59\"}],"
		 " \"ips\": [{%s\"address\": \"10.244.1.5/24\", \"gateway\": \"10.244.1.1\", \"interface\": 0},"
		 "          {%s\"address\": \"fd00:10:244:1::5/64\", \"gateway\": \"fd00:10:244:1::1\", \"interface\": "
		 "0}],"
		 " \"routes\": [{\"dst\": \"0.0.0.0/0\", \"gw\": \"10.244.1.1\"%s}, {\"dst\": \"::/0\"}],"
		 " \"dns\": {\"nameservers\": [\"10.96.0.10\", \"fd00:96::a\"], \"domain\": \"cluster.local\","
		 "          \"search\": [\"default.svc.cluster.local\"], \"options\": [\"ndots:5\"]}}",
		 version,
		 with_1_1 ? ", \"mtu\": 1450, \"socketPath\": \"/run/vhost-user.sock\", \"pciID\": \"0000:3b:00.2\""
			  : "",
		 v0 ? "\"version\": \"4\", " : "", v0 ? "\"version\": \"6\", " : "",
		 with_1_1 ? ", \"mtu\": 1400, \"advmss\": 1360, \"priority\": 100, \"table\": 254, \"scope\": 0" : "");
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	return doc;
}

static cJSON *parse(const char *text)
{
	cJSON *doc = cJSON_Parse(text);

	assert_non_null(doc);
	return doc;
}

static cJSON *convert(const cJSON *prev, const char *to, struct cni_result_conversion *conv)
{
	struct cni_error err = { 0 };
	cJSON *got = cni_result_convert(prev, to, conv, &err);

	if (!got)
		fail_msg("converting to %s: error %d: %s: %s", to, err.code, err.msg, err.details);
	assert_int_equal(err.code, 0);
	return got;
}

static void assert_json_equal(const cJSON *got, const cJSON *want, const char *what)
{
	char *got_text, *want_text;

	if (cJSON_Compare(got, want, true))
		return;
	got_text = cJSON_PrintUnformatted(got);
	want_text = cJSON_PrintUnformatted(want);
	fail_msg("%s:\n got  %s\n want %s", what, got_text, want_text);
}

/* ips[i].version of a result, "" when there is none. */
static const char *ip_version(const cJSON *result, int i)
{
	const cJSON *ip = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(result, "ips"), i);

	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ip, "version")) ?: "";
}

/* Error 7, its msg and details (as logged: "msg: details") containing want. */
static void expect_refused(const char *prev_text, const char *to, const char *want)
{
	cJSON *prev = parse(prev_text);
	struct cni_result_conversion conv;
	struct cni_error err = { 0 };
	char logged[CNI_ERROR_MSG_LEN + CNI_ERROR_DETAILS_LEN + 2];

	assert_null(cni_result_convert(prev, to, &conv, &err));
	snprintf(logged, sizeof(logged), "%s: %s", err.msg, err.details);
	if (err.code != 7 || !strstr(logged, want))
		fail_msg("converting %s to %s: want error 7 with \"%s\", got %d: %s", prev_text, to, want, err.code,
			 logged);
	cJSON_Delete(prev);
}

/* from's native result in to: to's native shape, with the 1.1.0 fields only when both have them. */
static void test_pair(void **state)
{
	const struct pair *p = *state;
	bool kept_1_1 = has_1_1_fields(p->from) && has_1_1_fields(p->to);
	cJSON *prev = result_at(p->from, has_1_1_fields(p->from)), *want = result_at(p->to, kept_1_1), *got;
	struct cni_result_conversion conv;

	got = convert(prev, p->to, &conv);
	assert_json_equal(got, want, p->name);
	/* cniVersion leads, as every CNI result prints it. */
	assert_string_equal(got->child->string, "cniVersion");
	assert_string_equal(conv.from, p->from);
	/* mtu, socketPath, pciID of one interface; mtu, advmss, priority, table, scope of one route. */
	assert_int_equal(conv.removed_count, has_1_1_fields(p->from) && !kept_1_1 ? 8 : 0);
	assert_int_equal(conv.removed_listed, conv.removed_count);
	cJSON_Delete(got);
	cJSON_Delete(want);
	cJSON_Delete(prev);
}

static void test_removed_report(void **state)
{
	cJSON *prev = result_at("1.1.0", true), *routes, *got;
	struct cni_result_conversion conv;
	int i;

	(void)state;
	got = convert(prev, "1.0.0", &conv);
	assert_string_equal(conv.removed, "interfaces[0].mtu, interfaces[0].socketPath, interfaces[0].pciID, "
					  "routes[0].mtu, routes[0].advmss, routes[0].priority, routes[0].table, "
					  "routes[0].scope");
	cJSON_Delete(got);

	/* More than fit: the first ones, whole, and the count of all. */
	routes = cJSON_GetObjectItemCaseSensitive(prev, "routes");
	for (i = 0; i < 40; i++)
		cJSON_AddItemToArray(routes, parse("{\"dst\": \"10.0.0.0/8\", \"mtu\": 1400}"));
	got = convert(prev, "0.4.0", &conv);
	assert_int_equal(conv.removed_count, 48);
	assert_true(conv.removed_listed < conv.removed_count);
	assert_true(conv.removed_listed > 8);
	assert_non_null(strstr(conv.removed, "routes[2].mtu"));
	assert_int_equal(conv.removed[strlen(conv.removed) - 1], 'u');
	cJSON_Delete(got);
	cJSON_Delete(prev);
}

/* The family decides ips[].version going to 0.x; the prefix must fit it. */
static void test_address_families(void **state)
{
	static const struct {
		const char *address, *version;
	} ok[] = {
		{ "10.0.0.1/32", "4" },
		{ "0.0.0.0/0", "4" },
		{ "192.168.1.1/16", "4" },
		{ "fe80::1/128", "6" },
		{ "::/0", "6" },
		{ "2001:db8::a/64", "6" },
		/* Written and configured as IPv6 (libcni's To4() would say "4"). */
		{ "::ffff:10.1.2.3/120", "6" },
	};
	static const char *const bad[] = {
		"10.0.0.1", "10.0.0.1/",	"10.0.0.1/33",	   "10.0.0.1/-1",     "10.0.0.1/+8", "10.0.0.1/24x",
		"10.0.0/8", "10.0.0.256/24",	"fd00::1/129",	   "fd00::1%eth0/64", "fd00:::1/64", "/24",
		"",	    "10.0.0.1/0000024", "host.example/24",
	};
	struct cni_result_conversion conv;
	char text[256];
	cJSON *prev, *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"%s\"}]}",
			 ok[i].address);
		prev = parse(text);
		got = convert(prev, "0.4.0", &conv);
		assert_string_equal(ip_version(got, 0), ok[i].version);
		cJSON_Delete(got);
		cJSON_Delete(prev);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(
			text, sizeof(text),
			"{\"cniVersion\": \"1.1.0\", \"ips\": [{\"address\": \"10.1.1.1/24\"}, {\"address\": \"%s\"}]}",
			bad[i]);
		expect_refused(text, "0.3.1", "prevResult.ips[1].address");
	}
	expect_refused("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": 10}]}", "0.3.0",
		       "prevResult.ips[0].address");
	expect_refused("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"gateway\": \"10.0.0.1\"}]}", "0.3.0",
		       "prevResult.ips[0].address");
	/* Going up, the address is not read: nothing to refuse. */
	prev = parse("{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": \"4\", \"address\": \"not-an-address\"}]}");
	got = convert(prev, "1.0.0", &conv);
	assert_string_equal(ip_version(got, 0), "");
	cJSON_Delete(got);
	cJSON_Delete(prev);
}

static void test_version_refused(void **state)
{
	static const char *const versions[] = { "0.1.0", "0.2.0", "0.3.2", "1.2.0", "2.0.0", "1.0", "latest" };
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		snprintf(text, sizeof(text), "{\"cniVersion\": \"%s\", \"ip4\": {\"ip\": \"10.0.0.2/24\"}}",
			 versions[i]);
		expect_refused(text, "1.0.0", "prevResult.cniVersion");
		expect_refused(text, "0.3.1", versions[i]);
	}
	expect_refused("{\"cniVersion\": 1.0}", "1.0.0", "invalid network configuration: prevResult.cniVersion");
	expect_refused("{\"cniVersion\": [\"1.0.0\"]}", "0.4.0", "prevResult.cniVersion");
}

/* libcni's rule: a result without its version is in the configuration's, and passes unchanged. */
static void test_version_missing(void **state)
{
	static const char *const prevs[] = {
		"{\"ips\": [{\"version\": \"4\", \"address\": \"10.0.0.2/24\"}]}",
		"{\"cniVersion\": \"\", \"ips\": [{\"version\": \"4\", \"address\": \"10.0.0.2/24\"}]}",
		"{\"cniVersion\": null, \"ips\": [{\"version\": \"4\", \"address\": \"10.0.0.2/24\"}]}",
	};
	struct cni_result_conversion conv;
	cJSON *prev, *got,
		*want = parse("{\"cniVersion\": \"1.0.0\","
			      " \"ips\": [{\"version\": \"4\", \"address\": \"10.0.0.2/24\"}]}");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(prevs) / sizeof(prevs[0]); i++) {
		prev = parse(prevs[i]);
		got = convert(prev, "1.0.0", &conv);
		assert_json_equal(got, want, prevs[i]);
		assert_string_equal(conv.from, "1.0.0");
		cJSON_Delete(got);
		cJSON_Delete(prev);
	}
	cJSON_Delete(want);
}

static void test_shape_refused(void **state)
{
	struct cni_result_conversion conv;
	cJSON *prev, *got;

	(void)state;
	expect_refused("{\"cniVersion\": \"0.4.0\", \"ips\": {\"address\": \"10.0.0.2/24\"}}", "1.0.0",
		       "prevResult.ips is not a list");
	expect_refused("{\"cniVersion\": \"1.0.0\", \"ips\": [\"10.0.0.2/24\"]}", "0.4.0",
		       "prevResult.ips[0] is not an object");
	expect_refused("{\"cniVersion\": \"1.1.0\", \"routes\": [{\"dst\": \"0.0.0.0/0\"}, null]}", "1.0.0",
		       "prevResult.routes[1] is not an object");
	expect_refused("{\"cniVersion\": \"1.1.0\", \"interfaces\": \"eth0\"}", "1.0.0",
		       "prevResult.interfaces is not a list");
	/* The message says what was being converted. */
	expect_refused("{\"cniVersion\": \"1.1.0\", \"interfaces\": 5}", "0.3.0",
		       "cannot convert prevResult from 1.1.0 to 0.3.0: prevResult.interfaces is not a list");

	/* In the configuration's version nothing is converted, so nothing is refused. */
	prev = parse("{\"cniVersion\": \"1.1.0\", \"interfaces\": 5, \"ips\": [\"x\"]}");
	got = convert(prev, "1.1.0", &conv);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(got, "interfaces")));
	cJSON_Delete(got);
	cJSON_Delete(prev);
	/* null is absent. */
	prev = parse("{\"cniVersion\": \"1.1.0\", \"interfaces\": null, \"ips\": null, \"routes\": null}");
	got = convert(prev, "0.4.0", &conv);
	cJSON_Delete(got);
	cJSON_Delete(prev);
}

/* Keys no spec version defines are copied, wherever they are. */
static void test_unknown_fields_kept(void **state)
{
	struct cni_result_conversion conv;
	cJSON *prev = parse("{\"cniVersion\": \"1.1.0\", \"x-vendor\": {\"podID\": \"p-1\", \"n\": [1, 2.5, true]},"
			    " \"interfaces\": [{\"name\": \"eth0\", \"mtu\": 9000, \"x-queue\": 4}],"
			    " \"ips\": [{\"address\": \"fd00::2/64\", \"x-lease\": \"3600s\"}],"
			    " \"routes\": [{\"dst\": \"::/0\", \"table\": 7, \"x-note\": null}]}");
	cJSON *want = parse("{\"cniVersion\": \"0.3.1\", \"x-vendor\": {\"podID\": \"p-1\", \"n\": [1, 2.5, true]},"
			    " \"interfaces\": [{\"name\": \"eth0\", \"x-queue\": 4}],"
			    " \"ips\": [{\"version\": \"6\", \"address\": \"fd00::2/64\", \"x-lease\": \"3600s\"}],"
			    " \"routes\": [{\"dst\": \"::/0\", \"x-note\": null}]}");
	cJSON *got;

	(void)state;
	got = convert(prev, "0.3.1", &conv);
	assert_json_equal(got, want, "1.1.0 to 0.3.1 with unknown keys");
	assert_string_equal(conv.removed, "interfaces[0].mtu, routes[0].table");
	cJSON_Delete(got);
	cJSON_Delete(want);
	cJSON_Delete(prev);
}

/*
 * From 0.x to 0.x ips[].version is the source's own field: kept, and set
 * only where it is missing. From 1.x a stray one is not trusted.
 */
static void test_ip_version_sources(void **state)
{
	struct cni_result_conversion conv;
	cJSON *prev, *got, *want;

	(void)state;
	prev = parse("{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": \"6\", \"address\": \"10.0.0.2/24\"},"
		     " {\"address\": \"fd00::2/64\"}]}");
	want = parse("{\"cniVersion\": \"0.3.0\", \"ips\": [{\"version\": \"6\", \"address\": \"10.0.0.2/24\"},"
		     " {\"version\": \"6\", \"address\": \"fd00::2/64\"}]}");
	got = convert(prev, "0.3.0", &conv);
	assert_json_equal(got, want, "0.4.0 to 0.3.0");
	cJSON_Delete(got);
	cJSON_Delete(want);
	cJSON_Delete(prev);

	prev = parse("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"version\": \"6\", \"version\": \"x\","
		     " \"address\": \"10.0.0.2/24\"}]}");
	want = parse("{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": \"4\", \"address\": \"10.0.0.2/24\"}]}");
	got = convert(prev, "0.4.0", &conv);
	assert_json_equal(got, want, "1.0.0 with a stray, repeated version to 0.4.0");
	cJSON_Delete(got);
	cJSON_Delete(want);
	want = parse("{\"cniVersion\": \"1.1.0\", \"ips\": [{\"address\": \"10.0.0.2/24\"}]}");
	got = convert(prev, "1.1.0", &conv);
	assert_json_equal(got, want, "1.0.0 with a stray, repeated version to 1.1.0");
	cJSON_Delete(got);
	cJSON_Delete(want);
	cJSON_Delete(prev);
}

/* What ADD prints: the converted result, newline-terminated; nothing after an error. */
static void test_request_prev_result_json(void **state)
{
	struct cni_request req = { .env = { .command = "ADD", .container_id = "c1", .ifname = "eth0" } };
	struct cni_error err = { 0 };
	cJSON *doc, *want = result_at("0.4.0", false);
	char *out;

	(void)state;
	req.conf.cni_version = "0.4.0";
	req.conf.prev_result = result_at("1.1.0", true);
	assert_int_equal(request_prev_result_json(&req, &out, &err), 0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	doc = cJSON_Parse(out);
	assert_json_equal(doc, want, "request_prev_result_json 1.1.0 to 0.4.0");
	cJSON_Delete(doc);
	cJSON_Delete(want);
	free(out);
	cJSON_Delete((cJSON *)req.conf.prev_result);

	req.conf.prev_result = parse("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"10.0.0.2\"}]}");
	out = (char *)"untouched";
	assert_int_equal(request_prev_result_json(&req, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, 7);
	cJSON_Delete((cJSON *)req.conf.prev_result);
}

static int quiet_logs(void **state)
{
	(void)state;
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, false);
	return 0;
}

int main(void)
{
	static const struct CMUnitTest cases[] = {
		cmocka_unit_test(test_removed_report),	   cmocka_unit_test(test_address_families),
		cmocka_unit_test(test_version_refused),	   cmocka_unit_test(test_version_missing),
		cmocka_unit_test(test_shape_refused),	   cmocka_unit_test(test_unknown_fields_kept),
		cmocka_unit_test(test_ip_version_sources), cmocka_unit_test(test_request_prev_result_json),
	};
	static struct pair pairs[PAIRS];
	struct CMUnitTest tests[PAIRS + sizeof(cases) / sizeof(cases[0])];
	size_t i, n = 0;

	assert_int_equal(cni_supported_versions_count, 5);
	/* One test per (from, to), both directions, the same version too. */
	for (i = 0; i < PAIRS; i++, n++) {
		pairs[i].from = cni_supported_versions[i / 5];
		pairs[i].to = cni_supported_versions[i % 5];
		snprintf(pairs[i].name, sizeof(pairs[i].name), "%s -> %s", pairs[i].from, pairs[i].to);
		tests[n] = (struct CMUnitTest){ .name = pairs[i].name,
						.test_func = test_pair,
						.initial_state = &pairs[i] };
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		tests[n++] = cases[i];
	return _cmocka_run_group_tests("test_plugin_result", tests, n, quiet_logs, NULL);
}
