/* SPDX-License-Identifier: Apache-2.0 */
/* Typed reads of JSON values with range checks, shared by the object parsers. */
#ifndef SOCKLB_JSON_VALUE_H
#define SOCKLB_JSON_VALUE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* True when item is an integral number within [min, max]; stores it in *out. */
bool json_int_in_range(const cJSON *item, long min, long max, long *out);
/* Absent or null → def; a boolean → its value; anything else → -EINVAL. */
int json_bool_or(const cJSON *item, bool def, bool *out);

#endif /* SOCKLB_JSON_VALUE_H */
