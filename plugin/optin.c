// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "optin.h"

static bool listed(const struct optin_input *in, const char **which)
{
	size_t i;

	for (i = 0; i < in->config_namespaces_count; i++) {
		if (strcmp(in->config_namespaces[i], "*") == 0 ||
		    (in->pod_namespace && strcmp(in->config_namespaces[i], in->pod_namespace) == 0)) {
			*which = in->config_namespaces[i];
			return true;
		}
	}
	return false;
}

__attribute__((format(printf, 3, 4))) static int decided(struct optin_decision *out, bool enabled, const char *fmt, ...)
{
	va_list ap;

	out->enabled = enabled;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return 0;
}

int optin_decide(const struct optin_input *in, struct optin_decision *out)
{
	const char *ns = in->pod_namespace ? in->pod_namespace : "(unknown)";
	/* Anything but "true"/"false" ("yes", "True") decides nothing, as Kubernetes booleans go. */
	const char *ignored = in->pod_annotation ? " (pod annotation ignored: neither \"true\" nor \"false\")" : "";
	int map = NAMESPACE_UNSET;
	const char *which;

	if (in->pod_annotation && strcmp(in->pod_annotation, "true") == 0)
		return decided(out, true, "pod annotation is \"true\"");
	if (in->pod_annotation && strcmp(in->pod_annotation, "false") == 0)
		return decided(out, false, "pod annotation is \"false\"");
	if (in->sidecar_mark)
		return decided(out, false,
			       "pod has a sidecar proxy (annotation %s): only its own \"true\" opts it in%s",
			       in->sidecar_mark, ignored);

	if (in->pod_namespace && in->namespace_lookup) {
		map = in->namespace_lookup(in->pod_namespace, in->lookup_ctx);
		if (map < 0)
			return map;
	}
	if (map == NAMESPACE_OPTED_OUT)
		return decided(out, false, "namespace %s is annotated \"false\" (namespace map)%s", ns, ignored);
	if (map == NAMESPACE_OPTED_IN)
		return decided(out, true, "namespace %s is annotated \"true\" (namespace map)%s", ns, ignored);
	if (listed(in, &which))
		return decided(out, true, "namespace %s matches \"%s\" in the config's namespaces%s", ns, which,
			       ignored);
	return decided(out, false, "namespace %s is not opted in%s", ns, ignored);
}
