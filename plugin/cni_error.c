// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni_error.h"

int cni_fail(struct cni_error *err, int code, const char *msg, const char *details_fmt, ...)
{
	va_list ap;

	if (err->code)
		return -1;
	err->code = code;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	err->details[0] = '\0';
	if (details_fmt) {
		va_start(ap, details_fmt);
		vsnprintf(err->details, sizeof(err->details), details_fmt, ap);
		va_end(ap);
	}
	return -1;
}

int cni_code_for_errno(int negative_errno, int code)
{
	switch (-negative_errno) {
	case EAGAIN:
	case EBUSY:
	case EINTR:
		return CNI_ERR_TRY_AGAIN;
	default:
		return code;
	}
}

char *cni_error_json(const struct cni_error *err, const char *cni_version)
{
	cJSON *obj = cJSON_CreateObject();
	char *text = NULL, *line = NULL;

	if (!obj)
		return NULL;
	if (!cJSON_AddStringToObject(obj, "cniVersion", cni_version) ||
	    !cJSON_AddNumberToObject(obj, "code", err->code) || !cJSON_AddStringToObject(obj, "msg", err->msg))
		goto out;
	if (err->details[0] && !cJSON_AddStringToObject(obj, "details", err->details))
		goto out;
	text = cJSON_Print(obj);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
out:
	cJSON_free(text);
	cJSON_Delete(obj);
	return line;
}
