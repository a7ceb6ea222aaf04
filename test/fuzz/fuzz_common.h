/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the fuzz targets share: quiet logs (the parsers log every refusal;
 * printing them would be most of the run time) and splitting one input into
 * NUL-terminated fields.
 */
#ifndef SOCKLB_FUZZ_COMMON_H
#define SOCKLB_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * Every level enabled (so the formatting code runs too, with the values the
 * input produced), written to /dev/null. SOCKLB_FUZZ_LOG=1 shows them.
 */
static inline void fuzz_logs_quiet(void)
{
	static FILE *null_log;

	if (getenv("SOCKLB_FUZZ_LOG")) {
		socklb_log_init("fuzz", SOCKLB_LOG_DEBUG, NULL, true);
		return;
	}
	if (!null_log)
		null_log = fopen("/dev/null", "w");
	socklb_log_init("fuzz", SOCKLB_LOG_DEBUG, null_log, false);
}

/* A NUL-terminated copy of len bytes (the input may hold NULs: the copy then ends early, as C strings do). */
static inline char *fuzz_strndup(const void *data, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * The next field of *data up to sep (or the end): a malloc'ed string.
 * Advances past the separator.
 */
static inline char *fuzz_next_field(const unsigned char **data, size_t *len, unsigned char sep)
{
	const unsigned char *end = memchr(*data, sep, *len);
	size_t n = end ? (size_t)(end - *data) : *len;
	char *field = fuzz_strndup(*data, n);

	*data += end ? n + 1 : n;
	*len -= end ? n + 1 : n;
	return field;
}

#endif /* SOCKLB_FUZZ_COMMON_H */
