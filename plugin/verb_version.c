// SPDX-License-Identifier: Apache-2.0
/*
 * VERSION: the spec versions we speak. The answer carries the cniVersion the
 * runtime sent (any stdin that does not say is answered in the latest).
 */
#include <cjson/cJSON.h>

#include "cni_version.h"
#include "verbs.h"

int verb_version(const struct cni_request *req, char **out, struct cni_error *err)
{
	cJSON *doc = cJSON_ParseWithLength(req->stdin_text, req->stdin_len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "cniVersion");

	*out = cni_version_json(cJSON_IsString(v) ? v->valuestring : CNI_VERSION_LATEST);
	cJSON_Delete(doc);
	if (!*out)
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "formatting the VERSION answer");
	return 0;
}
