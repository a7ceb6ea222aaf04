// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attach_failures.h"
#include "fsutil.h"

#define HEADER "socklb-attach-failures v1\n"
#define RECORD_MAX (SOCKLB_ATTACH_FAILURE_POD_LEN + SOCKLB_ATTACH_FAILURE_ERROR_LEN + 256)

/* "last <time> <pod> <error...>" */
static void parse_last(const char *s, struct socklb_attach_failures *r)
{
	const char *pod, *error;
	char *end;

	r->last_time = strtod(s, &end);
	if (end == s || *end != ' ')
		return;
	pod = end + 1;
	error = strchr(pod, ' ');
	if (!error)
		return;
	snprintf(r->last_pod, sizeof(r->last_pod), "%.*s", (int)(error - pod), pod);
	snprintf(r->last_error, sizeof(r->last_error), "%.*s", (int)strcspn(error + 1, "\n"), error + 1);
}

static int parse(const char *text, struct socklb_attach_failures *r)
{
	const char *line, *next;

	memset(r, 0, sizeof(*r));
	if (strncmp(text, HEADER, strlen(HEADER)) != 0)
		return -EINVAL;
	for (line = text + strlen(HEADER); *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			next++;
		if (strncmp(line, "ignored ", 8) == 0)
			r->ignored = strtoull(line + 8, NULL, 10);
		else if (strncmp(line, "failed ", 7) == 0)
			r->failed = strtoull(line + 7, NULL, 10);
		else if (strncmp(line, "last ", 5) == 0)
			parse_last(line + 5, r);
	}
	return 0;
}

/*
 * One line each: a newline would start a record line of its own. The pod is
 * one word (the error text follows it on the line): blanks become '_'.
 */
static void copy_field(char *dst, size_t len, const char *src, char blank)
{
	char *p;

	snprintf(dst, len, "%s", src && *src ? src : "-");
	for (p = dst; *p; p++)
		if (*p == '\n' || *p == '\r' || (*p == ' ' && blank != ' '))
			*p = blank;
}

/* The record's text, "" when there is none yet or it is not one (it then counts from zero again). */
static int read_record(const char *path, char **text, struct socklb_err *err)
{
	int ret = socklb_file_read(path, RECORD_MAX, text, NULL, err);

	if (ret == -ENOENT || ret == -EFBIG)
		*text = strdup("");
	else if (ret)
		return ret;
	return *text ? 0 : socklb_fail(err, -ENOMEM, "out of memory reading %s", path);
}

int socklb_attach_failures_record(const char *path, bool ignored, const char *pod, const char *error,
				  struct socklb_err *err)
{
	struct socklb_attach_failures r;
	char dir[PATH_MAX], line[RECORD_MAX], *text = NULL;
	struct timespec now;
	int lock, ret, len;

	/* Writers take turns on the directory; readers need no lock: the file is replaced whole. */
	socklb_dir_of(path, dir, sizeof(dir));
	/* Its directory only: a path whose parent is missing names no place of ours. */
	ret = socklb_mkdir(dir, 0700, false, err);
	if (ret)
		return ret;
	lock = socklb_dir_lock(dir, false, false, err);
	if (lock < 0)
		return lock;
	ret = read_record(path, &text, err);
	if (ret)
		goto out;
	parse(text, &r);
	if (ignored)
		r.ignored++;
	else
		r.failed++;
	clock_gettime(CLOCK_REALTIME, &now);
	r.last_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	copy_field(r.last_pod, sizeof(r.last_pod), pod, '_');
	copy_field(r.last_error, sizeof(r.last_error), error, ' ');
	len = snprintf(line, sizeof(line), HEADER "ignored %llu\nfailed %llu\nlast %.3f %s %s\n", r.ignored, r.failed,
		       r.last_time, r.last_pod, r.last_error);
	if (len >= (int)sizeof(line))
		len = (int)sizeof(line) - 1;
	ret = socklb_file_write_atomic(path, line, (size_t)len, 0600, err);
out:
	free(text);
	socklb_dir_unlock(lock);
	return ret;
}

int socklb_attach_failures_read(const char *path, struct socklb_attach_failures *out, struct socklb_err *err)
{
	char *text;
	int ret = socklb_file_read(path, RECORD_MAX, &text, NULL, err);

	if (ret)
		return ret;
	ret = parse(text, out);
	free(text);
	return ret ? socklb_fail(err, ret, "%s: not an attach-failure record", path) : 0;
}
