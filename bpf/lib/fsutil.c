// SPDX-License-Identifier: Apache-2.0
/* Shared file system steps: see fsutil.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

/* The temp file of an atomic write: hidden, and ".tmp", which no reader of configs takes for one. */
#define TEMP_SUFFIX ".tmp"
#define TEMP_TEMPLATE ".socklb-XXXXXX" TEMP_SUFFIX
/* Where the size of what is read is not known in advance (a pipe, a /proc file): the first buffer. */
#define READ_CHUNK 16384

static int mkdir_one(const char *path, mode_t mode, struct socklb_err *err)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return socklb_fail(err, socklb_errno(), "cannot create the directory %s: %s", path, strerror(errno));
	if (stat(path, &st))
		return socklb_fail(err, socklb_errno(), "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return socklb_fail(err, -ENOTDIR,
				   "cannot create the directory %s: a file that is not a directory is there", path);
	return 0;
}

int socklb_mkdir(const char *path, mode_t mode, bool parents, struct socklb_err *err)
{
	char buf[PATH_MAX];
	int ret;

	if (!parents)
		return mkdir_one(path, mode, err);
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return socklb_fail(err, -ENAMETOOLONG, "cannot create the directory %s: path too long", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ret = mkdir_one(buf, mode, err);
		if (ret)
			return ret;
		*p = '/';
	}
	return mkdir_one(buf, mode, err);
}

int socklb_dir_remove(const char *path, struct socklb_err *err)
{
	char entry[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0
				       : socklb_fail(err, socklb_errno(), "cannot list %s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", path, de->d_name);
		if (unlink(entry) && errno != ENOENT && !ret)
			ret = socklb_fail(err, socklb_errno(), "cannot remove %s: %s", entry, strerror(errno));
	}
	closedir(d);
	if (rmdir(path) && errno != ENOENT && !ret)
		ret = socklb_fail(err, socklb_errno(), "cannot remove %s: %s", path, strerror(errno));
	return ret;
}

int socklb_dir_lock(const char *path, bool create, bool nonblock, struct socklb_err *err)
{
	int fd, ret;

	if (create) {
		ret = socklb_mkdir(path, 0700, true, err);
		if (ret)
			return ret;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return socklb_fail(err, socklb_errno(), "cannot open the directory %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | (nonblock ? LOCK_NB : 0))) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			ret = socklb_fail(err, -EBUSY, "cannot lock %s: another process holds it", path);
		else
			ret = socklb_fail(err, socklb_errno(), "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

void socklb_dir_unlock(int fd)
{
	/* Closing the last fd of the open file releases the flock. */
	if (fd >= 0)
		close(fd);
}

static void wipe_free(char *buf, size_t n)
{
	if (buf)
		explicit_bzero(buf, n);
	free(buf);
}

/* Room for one more byte than buf holds (n of cap - 1 used); false when out of memory. */
static bool grow(char **buf, size_t *cap, size_t max)
{
	size_t want = *cap * 2 > max + 1 ? max + 1 : *cap * 2;
	char *bigger = realloc(*buf, want);

	if (!bigger)
		return false;
	*buf = bigger;
	*cap = want;
	return true;
}

int socklb_fd_read(int fd, const char *what, size_t max, char **text, size_t *len, struct socklb_err *err)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf, extra;
	ssize_t r;
	int ret;

	*text = NULL;
	if (len)
		*len = 0;
	cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : READ_CHUNK;
	cap = (cap > max ? max : cap) + 1;
	buf = malloc(cap);
	if (!buf)
		return socklb_fail(err, -ENOMEM, "out of memory reading %s", what);
	for (;;) {
		/* Full: one more byte says whether there is more, without a bigger buffer for nothing. */
		bool full = n == cap - 1;

		r = read(fd, full ? &extra : buf + n, full ? 1 : cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = socklb_fail(err, socklb_errno(), "cannot read %s: %s", what, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		if (full) {
			if (n == max) {
				ret = socklb_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max);
				goto fail;
			}
			if (!grow(&buf, &cap, max)) {
				ret = socklb_fail(err, -ENOMEM, "out of memory reading %s", what);
				goto fail;
			}
			buf[n] = extra;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*text = buf;
	if (len)
		*len = n;
	return 0;
fail:
	wipe_free(buf, n);
	return ret;
}

int socklb_file_read(const char *path, size_t max, char **text, size_t *len, struct socklb_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	*text = NULL;
	if (len)
		*len = 0;
	if (fd < 0)
		return socklb_fail(err, socklb_errno(), "cannot open %s: %s", path, strerror(errno));
	ret = socklb_fd_read(fd, path, max, text, len, err);
	close(fd);
	return ret;
}

int socklb_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return socklb_errno();
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void socklb_dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int socklb_dir_sync(const char *dir, struct socklb_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return socklb_fail(err, socklb_errno(), "cannot open %s: %s", dir, strerror(errno));
	if (fsync(fd))
		ret = socklb_fail(err, socklb_errno(), "cannot sync %s: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

int socklb_atomic_begin(struct socklb_atomic_file *f, const char *path, mode_t mode, struct socklb_err *err)
{
	char dir[PATH_MAX];
	int ret;

	f->fd = -1;
	f->tmp[0] = '\0';
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path))
		return socklb_fail(err, -ENAMETOOLONG, "%s: path too long", path);
	socklb_dir_of(path, dir, sizeof(dir));
	if (snprintf(f->tmp, sizeof(f->tmp), "%s/" TEMP_TEMPLATE, dir) >= (int)sizeof(f->tmp))
		return socklb_fail(err, -ENAMETOOLONG, "%s: path too long", path);
	f->fd = mkostemps(f->tmp, (int)strlen(TEMP_SUFFIX), O_CLOEXEC);
	if (f->fd < 0)
		return socklb_fail(err, socklb_errno(), "cannot create a file in %s: %s", dir, strerror(errno));
	if (fchmod(f->fd, mode & 07777)) {
		ret = socklb_fail(err, socklb_errno(), "cannot set the mode of %s: %s", f->tmp, strerror(errno));
		socklb_atomic_abort(f);
		return ret;
	}
	return 0;
}

void socklb_atomic_abort(struct socklb_atomic_file *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	unlink(f->tmp);
	f->fd = -1;
}

int socklb_atomic_commit(struct socklb_atomic_file *f, struct socklb_err *err)
{
	char dir[PATH_MAX];
	int ret = 0;

	if (fsync(f->fd))
		ret = socklb_fail(err, socklb_errno(), "cannot sync %s: %s", f->tmp, strerror(errno));
	if (close(f->fd) && !ret)
		ret = socklb_fail(err, socklb_errno(), "cannot write %s: %s", f->tmp, strerror(errno));
	f->fd = -1;
	if (!ret && rename(f->tmp, f->path))
		ret = socklb_fail(err, socklb_errno(), "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
	if (ret) {
		unlink(f->tmp);
		return ret;
	}
	socklb_dir_of(f->path, dir, sizeof(dir));
	return socklb_dir_sync(dir, err);
}

int socklb_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct socklb_err *err)
{
	struct socklb_atomic_file f;
	int ret = socklb_atomic_begin(&f, path, mode, err);

	if (ret)
		return ret;
	ret = socklb_write_all(f.fd, data, len);
	if (ret) {
		socklb_fail(err, ret, "cannot write %s: %s", f.tmp, strerror(-ret));
		socklb_atomic_abort(&f);
		return ret;
	}
	return socklb_atomic_commit(&f, err);
}
