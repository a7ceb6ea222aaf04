// SPDX-License-Identifier: Apache-2.0
/* The error context: see err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void socklb_err_set(struct socklb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void socklb_err_prefix(struct socklb_err *e, const char *fmt, ...)
{
	char prefix[SOCKLB_ERR_MSG_LEN], old[SOCKLB_ERR_MSG_LEN];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
}

void socklb_err_clear(struct socklb_err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

int socklb_err_fallback(struct socklb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e || !code || e->code)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}
