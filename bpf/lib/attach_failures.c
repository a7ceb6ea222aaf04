// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach_failures.h"

#define HEADER "socklb-attach-failures v1\n"
#define RECORD_MAX (SOCKLB_ATTACH_FAILURE_POD_LEN + SOCKLB_ATTACH_FAILURE_ERROR_LEN + 256)

static int lock(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The record's text in buf (NUL-terminated), read from the start of fd. */
static int read_text(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

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

static int open_creating_dir(const char *path)
{
	char dir[PATH_MAX], *slash;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd >= 0 || errno != ENOENT)
		return fd < 0 ? -errno : fd;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return -ENOENT;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

int socklb_attach_failures_record(const char *path, bool ignored, const char *pod, const char *error)
{
	struct socklb_attach_failures r;
	char text[RECORD_MAX];
	struct timespec now;
	int fd, ret, len;

	fd = open_creating_dir(path);
	if (fd < 0)
		return fd;
	ret = lock(fd, LOCK_EX);
	if (!ret)
		ret = read_text(fd, text, sizeof(text));
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
	len = snprintf(text, sizeof(text), HEADER "ignored %llu\nfailed %llu\nlast %.3f %s %s\n", r.ignored, r.failed,
		       r.last_time, r.last_pod, r.last_error);
	if (len >= (int)sizeof(text))
		len = (int)sizeof(text) - 1;
	errno = 0;
	if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
		ret = errno ? -errno : -EIO;
out:
	close(fd); /* releases the lock */
	return ret;
}

int socklb_attach_failures_read(const char *path, struct socklb_attach_failures *out)
{
	char text[RECORD_MAX];
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = lock(fd, LOCK_SH);
	if (!ret)
		ret = read_text(fd, text, sizeof(text));
	close(fd);
	if (ret)
		return ret;
	return parse(text, out);
}
