/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file system steps the plugin, the daemon and the library share, each
 * written once: making a private directory, locking one, emptying and
 * removing one, reading a whole file, replacing one atomically. Functions return 0 (or an fd) or a
 * negative errno with the error context (err.h) naming the step and the path.
 */
#ifndef SOCKLB_FSUTIL_H
#define SOCKLB_FSUTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/*
 * Make the directory path with mode, its missing parents too when parents is
 * set (with the same mode). An existing directory is success whatever its
 * mode; an existing file that is not a directory is -ENOTDIR.
 */
int socklb_mkdir(const char *path, mode_t mode, bool parents, struct socklb_err *err);

/*
 * Remove every entry of the directory (pins, files: one level, no
 * subdirectory), then the directory: 0, also when it is already gone, or the
 * first error (the other entries are still removed).
 */
int socklb_dir_remove(const char *path, struct socklb_err *err);

/*
 * An exclusive flock on the directory path (made with mode 0700 and its
 * parents when create is set): the fd, closing it unlocks. -ENOENT when it
 * does not exist and create is not set; with nonblock, -EBUSY when another
 * process holds it.
 */
int socklb_dir_lock(const char *path, bool create, bool nonblock, struct socklb_err *err);
/* Release it (close the fd); a negative fd is ignored. */
void socklb_dir_unlock(int fd);

/*
 * The whole content of the file at path (or, with socklb_fd_read, of an fd
 * read to its end, named what in errors), NUL-terminated, in a malloc'ed
 * *text; *len is its length without the NUL (may be NULL). -EFBIG when it
 * holds more than max bytes. A regular file is read into one buffer of its
 * size, so a secret read from it leaves no copy behind when the caller wipes
 * *text.
 */
int socklb_file_read(const char *path, size_t max, char **text, size_t *len, struct socklb_err *err);
int socklb_fd_read(int fd, const char *what, size_t max, char **text, size_t *len, struct socklb_err *err);

/* write(2) until all of data is written: 0 or a negative errno. */
int socklb_write_all(int fd, const void *data, size_t len);

/*
 * Replacing a file atomically: a temp file beside it (".socklb-XXXXXX.tmp":
 * a name no reader of *.conf, *.json, ... takes for one of its files),
 * written through fd, then synced and renamed over path. Readers see the old
 * content or the new, never a part.
 */
struct socklb_atomic_file {
	int fd;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
};

/* Create the temp file for path, with mode. */
int socklb_atomic_begin(struct socklb_atomic_file *f, const char *path, mode_t mode, struct socklb_err *err);
/* Sync it, rename it over path, sync the directory; the temp file is gone on every path. */
int socklb_atomic_commit(struct socklb_atomic_file *f, struct socklb_err *err);
/* Give up: close and remove the temp file. */
void socklb_atomic_abort(struct socklb_atomic_file *f);
/* The three above with len bytes of data. */
int socklb_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct socklb_err *err);

/* fsync the directory: a rename or unlink in it is durable once it is. */
int socklb_dir_sync(const char *dir, struct socklb_err *err);

/* The directory part of path into buf: "." when it has none, "/" for a file at the root. */
void socklb_dir_of(const char *path, char *buf, size_t len);

#endif /* SOCKLB_FSUTIL_H */
