// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_result.h"
#include "cni_version.h"

/* The first version without ips[].version. */
#define RESULT_1X_SINCE "1.0.0"
/* The version that added the attributes below. */
#define RESULT_ATTRIBUTES_SINCE "1.1.0"

static const char *const interface_attributes_1_1[] = { "mtu", "socketPath", "pciID" };
static const char *const route_attributes_1_1[] = { "mtu", "advmss", "priority", "table", "scope" };

struct conversion {
	const char *to;
	struct cni_result_conversion *report;
	struct cni_error *err;
};

__attribute__((format(printf, 2, 3))) static int cannot_convert(const struct conversion *c, const char *details_fmt,
								...)
{
	char msg[CNI_ERROR_MSG_LEN], details[CNI_ERROR_DETAILS_LEN];
	va_list ap;

	snprintf(msg, sizeof(msg), "cannot convert prevResult from %s to %s", c->report->from, c->to);
	va_start(ap, details_fmt);
	vsnprintf(details, sizeof(details), details_fmt, ap);
	va_end(ap);
	return cni_fail(c->err, CNI_ERR_INVALID_CONFIG, msg, "%s", details);
}

static int out_of_memory(const struct conversion *c)
{
	return cni_fail(c->err, SOCKLB_ERR_INTERNAL, "out of memory", "converting prevResult to %s", c->to);
}

/* "4" or "6" for an IP address in CIDR notation ("10.1.2.3/24", "fd00::3/64"); NULL when it is not one. */
static const char *cidr_ip_version(const char *cidr)
{
	const char *slash = strchr(cidr, '/'), *version;
	unsigned char bytes[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN];
	unsigned long prefix, max;
	size_t len;
	char *end;

	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return NULL;
	len = (size_t)(slash - cidr);
	memcpy(addr, cidr, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bytes) == 1) {
		version = "4";
		max = 32;
	} else if (inet_pton(AF_INET6, addr, bytes) == 1) {
		version = "6";
		max = 128;
	} else {
		return NULL;
	}
	if (slash[1] < '0' || slash[1] > '9')
		return NULL;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || end - (slash + 1) > 3 || prefix > max)
		return NULL;
	return version;
}

/* cJSON keeps every copy of a repeated key: remove them all. */
static bool remove_member(cJSON *obj, const char *key)
{
	bool found = false;

	while (cJSON_GetObjectItemCaseSensitive(obj, key)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
		found = true;
	}
	return found;
}

/* What the conversion walks must be a list of objects (absent or null: nothing to convert). */
static int check_list_of_objects(const cJSON *result, const char *key, const struct conversion *c)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(result, key), *item;
	size_t i = 0;

	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cannot_convert(c, "prevResult.%s is not a list", key);
	cJSON_ArrayForEach(item, list) {
		if (!cJSON_IsObject(item))
			return cannot_convert(c, "prevResult.%s[%zu] is not an object", key, i);
		i++;
	}
	return 0;
}

static void note_removed(struct cni_result_conversion *report, const char *list, size_t i, const char *field)
{
	size_t len = strlen(report->removed);
	int n;

	/* The first ones, whole: after one that did not fit, only the count goes on. */
	if (report->removed_count++ > report->removed_listed)
		return;
	n = snprintf(report->removed + len, sizeof(report->removed) - len, "%s%s[%zu].%s", len ? ", " : "", list, i,
		     field);
	if (n < 0 || (size_t)n >= sizeof(report->removed) - len)
		report->removed[len] = '\0';
	else
		report->removed_listed++;
}

static void remove_attributes(cJSON *result, const char *list, const char *const *fields, size_t nfields,
			      struct cni_result_conversion *report)
{
	cJSON *item;
	size_t i = 0, f;

	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(result, list)) {
		for (f = 0; f < nfields; f++)
			if (remove_member(item, fields[f]))
				note_removed(report, list, i, fields[f]);
		i++;
	}
}

static int set_ip_version(cJSON *ip, size_t i, bool keep, const struct conversion *c)
{
	const cJSON *address = cJSON_GetObjectItemCaseSensitive(ip, "address");
	const char *version;

	if (keep && cJSON_GetObjectItemCaseSensitive(ip, "version"))
		return 0;
	if (!cJSON_IsString(address))
		return cannot_convert(c,
				      "prevResult.ips[%zu].address is missing or not a string (%s needs ips[].version, "
				      "which comes from the address)",
				      i, c->to);
	version = cidr_ip_version(address->valuestring);
	if (!version)
		return cannot_convert(
			c,
			"prevResult.ips[%zu].address \"%s\" is not an IP address in CIDR notation (%s needs "
			"ips[].version, which comes from the address)",
			i, address->valuestring, c->to);
	remove_member(ip, "version");
	return cJSON_AddStringToObject(ip, "version", version) ? 0 : out_of_memory(c);
}

static int convert(cJSON *result, const struct conversion *c)
{
	const char *from = c->report->from;
	bool from_0x = !cni_version_at_least(from, RESULT_1X_SINCE);
	cJSON *ip;
	size_t i = 0;

	if (!cni_version_supported(from))
		return cannot_convert(c, "prevResult.cniVersion: results of %s convert, no other version",
				      cni_supported_versions_text());
	if (check_list_of_objects(result, "interfaces", c) || check_list_of_objects(result, "ips", c) ||
	    check_list_of_objects(result, "routes", c))
		return -1;

	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(result, "ips")) {
		if (cni_version_at_least(c->to, RESULT_1X_SINCE))
			remove_member(ip, "version");
		else if (set_ip_version(ip, i, from_0x, c))
			return -1;
		i++;
	}
	if (!cni_version_at_least(c->to, RESULT_ATTRIBUTES_SINCE)) {
		remove_attributes(result, "interfaces", interface_attributes_1_1,
				  sizeof(interface_attributes_1_1) / sizeof(interface_attributes_1_1[0]), c->report);
		remove_attributes(result, "routes", route_attributes_1_1,
				  sizeof(route_attributes_1_1) / sizeof(route_attributes_1_1[0]), c->report);
	}
	return 0;
}

cJSON *cni_result_convert(const cJSON *prev, const char *to, struct cni_result_conversion *conv, struct cni_error *err)
{
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(prev, "cniVersion"), *item;
	struct conversion c = { .to = to, .report = conv, .err = err };
	cJSON *result, *copy;

	memset(conv, 0, sizeof(*conv));
	if (version && !cJSON_IsNull(version) && !cJSON_IsString(version)) {
		cni_fail(err, CNI_ERR_INVALID_CONFIG, "invalid network configuration: prevResult.cniVersion",
			 "must be a string");
		return NULL;
	}
	/* libcni's rule: a result without its version is in the configuration's. */
	conv->from = cJSON_GetStringValue(version);
	if (!conv->from || !conv->from[0])
		conv->from = to;

	result = cJSON_CreateObject();
	if (!result || !cJSON_AddStringToObject(result, "cniVersion", to))
		goto oom;
	cJSON_ArrayForEach(item, prev) {
		if (strcmp(item->string, "cniVersion") == 0)
			continue;
		copy = cJSON_Duplicate(item, true);
		if (!copy)
			goto oom;
		if (!cJSON_AddItemToObject(result, item->string, copy)) {
			cJSON_Delete(copy);
			goto oom;
		}
	}
	if (strcmp(conv->from, to) != 0 && convert(result, &c)) {
		cJSON_Delete(result);
		return NULL;
	}
	return result;
oom:
	cJSON_Delete(result);
	out_of_memory(&c);
	return NULL;
}
