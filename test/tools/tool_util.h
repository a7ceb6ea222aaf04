/* SPDX-License-Identifier: Apache-2.0 */
/* Small pieces every test tool that opens real sockets needs, in one place. */
#ifndef SOCKLB_TEST_TOOL_UTIL_H
#define SOCKLB_TEST_TOOL_UTIL_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbmap.h"

/* The symbolic name the tests match on ("ECONNREFUSED"), else strerror. */
static inline const char *errname(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNABORTED:
		return "ECONNABORTED";
	case ECONNRESET:
		return "ECONNRESET";
	case EDESTADDRREQ:
		return "EDESTADDRREQ";
	case EPERM:
		return "EPERM";
	case EPIPE:
		return "EPIPE";
	case ENOTCONN:
		return "ENOTCONN";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EAGAIN:
		return "EAGAIN";
	default:
		return strerror(e);
	}
}

/* 0 once fd is readable; -1 with errno (ETIMEDOUT after ms). */
static inline int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);

	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

/* How many answers came from each backend name, for the "spread" commands. */
#define TALLY_NAMES 64

struct tally {
	struct {
		char name[64];
		int n;
	} names[TALLY_NAMES];
	int nnames;
	int errors;
};

static inline void tally_add(struct tally *t, const char *name)
{
	int i;

	for (i = 0; i < t->nnames && strcmp(t->names[i].name, name) != 0; i++)
		;
	if (i == TALLY_NAMES)
		return;
	if (i == t->nnames)
		snprintf(t->names[t->nnames++].name, sizeof(t->names[0].name), "%s", name);
	t->names[i].n++;
}

/* "NAME COUNT" lines, then "errors N"; the exit status: 1 when any failed. */
static inline int tally_print(const struct tally *t)
{
	int i;

	for (i = 0; i < t->nnames; i++)
		printf("%s %d\n", t->names[i].name, t->names[i].n);
	printf("errors %d\n", t->errors);
	return t->errors ? 1 : 0;
}

/* "1.2.3.4:80" or "[fd00::1]:80" into a map endpoint. */
static inline int parse_endpoint(const char *s, struct socklb_endpoint *ep)
{
	char buf[128], *colon, *end;
	long port;

	snprintf(buf, sizeof(buf), "%s", s[0] == '[' ? s + 1 : s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (colon > buf && colon[-1] == ']')
		colon[-1] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port < 0 || port > 65535)
		return -EINVAL;
	ep->port = (__u16)port;
	return socklb_addr_parse(buf, ep->addr);
}

#endif /* SOCKLB_TEST_TOOL_UTIL_H */
