// SPDX-License-Identifier: Apache-2.0
#include "json_value.h"

#include <errno.h>

bool json_int_in_range(const cJSON *item, long min, long max, long *out)
{
	double v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	if (!(v >= (double)min && v <= (double)max) || v != (double)(long)v)
		return false;
	*out = (long)v;
	return true;
}

int json_bool_or(const cJSON *item, bool def, bool *out)
{
	if (!item || cJSON_IsNull(item)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(item))
		return -EINVAL;
	*out = cJSON_IsTrue(item);
	return 0;
}
