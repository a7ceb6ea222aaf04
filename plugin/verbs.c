// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "verbs.h"

static const struct cni_verb verbs[] = {
	{ "ADD", "0.3.0", NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME, true, verb_add },
	{ "DEL", "0.3.0", NEED_CONTAINERID | NEED_IFNAME, true, verb_del },
	{ "CHECK", "0.4.0", NEED_CONTAINERID | NEED_NETNS | NEED_IFNAME, true, verb_check },
	{ "GC", "1.1.0", 0, true, verb_gc },
	{ "STATUS", "1.1.0", 0, true, verb_status },
	{ "VERSION", "0.3.0", 0, false, verb_version },
};

const struct cni_verb *cni_verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}
