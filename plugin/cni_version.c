// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_version.h"

const char *const cni_supported_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", CNI_VERSION_LATEST };
const size_t cni_supported_versions_count = sizeof(cni_supported_versions) / sizeof(cni_supported_versions[0]);

bool cni_version_supported(const char *version)
{
	size_t i;

	for (i = 0; i < cni_supported_versions_count; i++)
		if (strcmp(version, cni_supported_versions[i]) == 0)
			return true;
	return false;
}

/* Strict "N.N.N" with decimal numbers only: "1.0" or "v1.0.0" are not versions. */
static int version_parse(const char *s, unsigned long part[3])
{
	const char *p = s;
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		part[i] = strtoul(p, &end, 10);
		if (errno)
			return -EINVAL;
		if (i < 2 && *end != '.')
			return -EINVAL;
		p = end + (i < 2);
	}
	return *end ? -EINVAL : 0;
}

int cni_version_compare(const char *a, const char *b, int *err)
{
	unsigned long va[3], vb[3];
	int i;

	if (version_parse(a, va) || version_parse(b, vb)) {
		if (err)
			*err = -EINVAL;
		return 0;
	}
	if (err)
		*err = 0;
	for (i = 0; i < 3; i++)
		if (va[i] != vb[i])
			return va[i] < vb[i] ? -1 : 1;
	return 0;
}

bool cni_version_at_least(const char *version, const char *min)
{
	int err, cmp = cni_version_compare(version, min, &err);

	return !err && cmp >= 0;
}

const char *cni_supported_versions_text(void)
{
	static char text[64];
	size_t i, off = 0;

	if (text[0])
		return text;
	for (i = 0; i < cni_supported_versions_count && off < sizeof(text); i++)
		off += snprintf(text + off, sizeof(text) - off, "%s%s", i ? ", " : "", cni_supported_versions[i]);
	return text;
}

char *cni_version_json(const char *version)
{
	cJSON *obj = cJSON_CreateObject(), *list;
	char *text = NULL, *line = NULL;

	if (!obj)
		return NULL;
	if (!cJSON_AddStringToObject(obj, "cniVersion", version))
		goto out;
	list = cJSON_CreateStringArray(cni_supported_versions, (int)cni_supported_versions_count);
	if (!list)
		goto out;
	cJSON_AddItemToObject(obj, "supportedVersions", list);
	text = cJSON_Print(obj);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
out:
	cJSON_free(text);
	cJSON_Delete(obj);
	return line;
}
