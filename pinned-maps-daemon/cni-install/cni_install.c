// SPDX-License-Identifier: Apache-2.0
#include "cni_install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define PLUGIN_FILE_NAME CNI_PLUGIN_TYPE
/* Real conflists are a few KiB; anything this large is not one. */
#define CONF_MAX_BYTES (1024 * 1024)

void cni_install_opts_init(struct cni_install_opts *o)
{
	o->bin_dir = CNI_DEFAULT_BIN_DIR;
	o->conf_dir = CNI_DEFAULT_CONF_DIR;
	o->plugin_binary = NULL;
	o->entry_config = NULL;
}

/* Files --------------------------------------------------------------------- */

/* A config's text, and its mode and owner for the file that replaces it. */
static int read_text(const char *path, char **text, struct stat *st, struct socklb_err *err)
{
	size_t len;
	int ret;

	*text = NULL;
	if (stat(path, st))
		return socklb_fail(err, socklb_errno(), "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return socklb_fail(err, -EINVAL, "%s: not a regular file", path);
	ret = socklb_file_read(path, CONF_MAX_BYTES, text, &len, err);
	if (ret == -EFBIG)
		return socklb_fail(err, ret, "%s: larger than %d bytes, not a CNI config", path, CONF_MAX_BYTES);
	if (ret)
		return ret;
	if (strlen(*text) != len) {
		free(*text);
		*text = NULL;
		return socklb_fail(err, -EINVAL, "%s: contains a NUL byte, not JSON text", path);
	}
	return 0;
}

/* Replace path with data atomically, with the mode and owner of like. */
static int write_atomic(const char *path, const char *data, const struct stat *like, struct socklb_err *err)
{
	struct socklb_atomic_file f;
	int ret;

	ret = socklb_atomic_begin(&f, path, like->st_mode, err);
	if (ret)
		return ret;
	/* Keeping the owner needs CAP_CHOWN unless it is us: only a failure that changes something matters. */
	if (fchown(f.fd, like->st_uid, like->st_gid) && (like->st_uid != geteuid() || like->st_gid != getegid()))
		pr_warn("%s: cannot keep its owner %u:%u: %s", path, (unsigned)like->st_uid, (unsigned)like->st_gid,
			strerror(errno));
	ret = socklb_write_all(f.fd, data, strlen(data));
	if (ret) {
		socklb_fail(err, ret, "cannot write %s: %s", f.tmp, strerror(-ret));
		socklb_atomic_abort(&f);
		return ret;
	}
	return socklb_atomic_commit(&f, err);
}

/* Finding the primary config ---------------------------------------------- */

bool cni_conf_is_config_name(const char *name)
{
	const char *ext = strrchr(name, '.');

	return ext && (strcmp(ext, ".conf") == 0 || strcmp(ext, ".conflist") == 0 || strcmp(ext, ".json") == 0);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Like Go's os.ReadDir entries: only a real directory is skipped, a symlink to one is not. */
static bool is_directory(DIR *d, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* 0 with *path, 1 when the dir holds no network config, negative errno when it cannot be read. */
static int find_primary(const char *conf_dir, char **path)
{
	const struct dirent *de;
	char *best = NULL;
	DIR *d;
	int ret = 1;

	*path = NULL;
	d = opendir(conf_dir);
	if (!d)
		return socklb_errno();
	while ((de = readdir(d))) {
		/* Byte order, as Go's sort.Strings: not strcoll. */
		if (!cni_conf_is_config_name(de->d_name) || is_directory(d, de) ||
		    (best && strcmp(de->d_name, best) >= 0))
			continue;
		free(best);
		best = strdup(de->d_name);
		if (!best) {
			ret = -ENOMEM;
			break;
		}
	}
	closedir(d);
	if (best) {
		ret = asprintf(path, "%s/%s", conf_dir, best) < 0 ? -ENOMEM : 0;
		if (ret)
			*path = NULL;
	}
	free(best);
	return ret;
}

int cni_conf_find_primary(const char *conf_dir, char **path)
{
	int ret = find_primary(conf_dir, path);

	return ret == 1 ? -ENOENT : ret;
}

/* Ensuring and removing the entry ------------------------------------------- */

/* Symlinked configs are edited where they point, so the link stays a link. */
static int resolve(const char *path, char **real, struct socklb_err *err)
{
	struct stat st;

	if (lstat(path, &st))
		return socklb_fail(err, socklb_errno(), "cannot stat %s: %s", path, strerror(errno));
	*real = S_ISLNK(st.st_mode) ? realpath(path, NULL) : strdup(path);
	if (!*real)
		return socklb_fail(err, socklb_errno(), "cannot resolve %s: %s", path, strerror(errno));
	return 0;
}

/* A conflist at dest may be replaced only if we wrote it: it holds a socklb entry. */
static int check_wrap_target(const char *conf_path, const char *dest, struct socklb_err *err)
{
	struct socklb_err ignored;
	struct stat st;
	char *text;
	int ours = 0;

	if (lstat(dest, &st) && errno == ENOENT)
		return 0;
	if (read_text(dest, &text, &st, &ignored) == 0) {
		if (cni_conflist_count_socklb(dest, text, &ours, &ignored))
			ours = 0;
		free(text);
	}
	if (ours)
		return 0;
	return socklb_fail(err, -EEXIST,
			   "%s: wrapping it into a conflist would replace %s, which is not ours; move one away",
			   conf_path, dest);
}

/* A .conf or .json becomes <base>.conflist holding the entry; the original goes once that is in place. */
static int wrap_file(const char *conf_path, const char *real, const char *text, const struct stat *st,
		     const char *entry, char **dest, enum cni_conf_change *change, struct socklb_err *err)
{
	char *wrapped = NULL, *with_entry = NULL, dir[PATH_MAX];
	const char *ext = strrchr(conf_path, '.');
	int ret;

	if (asprintf(dest, "%.*s.conflist", (int)(ext - conf_path), conf_path) < 0) {
		*dest = NULL;
		return socklb_fail(err, -ENOMEM, "%s: out of memory", conf_path);
	}
	ret = check_wrap_target(conf_path, *dest, err);
	if (!ret)
		ret = cni_conf_wrap(real, text, &wrapped, err);
	if (!ret)
		ret = cni_conflist_put(*dest, wrapped, entry, CNI_ENTRY_REPLACE, &with_entry, change, err);
	if (!ret)
		ret = write_atomic(*dest, with_entry ? with_entry : wrapped, st, err);
	/* Until the original goes it sorts first ("x.conf" < "x.conflist"): runtimes see the old or the new, never neither. */
	if (!ret && unlink(conf_path))
		ret = socklb_fail(err, socklb_errno(), "wrote %s but cannot remove %s: %s", *dest, conf_path,
				  strerror(errno));
	if (!ret) {
		socklb_dir_of(conf_path, dir, sizeof(dir));
		ret = socklb_dir_sync(dir, err);
	}
	if (!ret)
		pr_info("wrapped the single-plugin config %s into %s", conf_path, *dest);
	free(wrapped);
	free(with_entry);
	if (ret) {
		free(*dest);
		*dest = NULL;
	}
	return ret;
}

int cni_conf_ensure(const struct cni_install_opts *o, const char *entry, enum cni_entry_mode mode, char **path,
		    enum cni_conf_change *change, struct socklb_err *err)
{
	char *primary = NULL, *real = NULL, *text = NULL, *out = NULL;
	struct stat st;
	int ret;

	*path = NULL;
	*change = CNI_CONF_UNCHANGED;
	ret = find_primary(o->conf_dir, &primary);
	if (ret < 0)
		return socklb_fail(err, ret, "cannot read the CNI config dir %s: %s", o->conf_dir, strerror(-ret));
	if (ret == 1)
		return 0;
	ret = resolve(primary, &real, err);
	if (!ret)
		ret = read_text(real, &text, &st, err);
	if (ret)
		goto out;
	if (!has_suffix(primary, ".conflist")) {
		ret = wrap_file(primary, real, text, &st, entry, path, change, err);
		goto out;
	}
	ret = cni_conflist_put(real, text, entry, mode, &out, change, err);
	if (!ret && out)
		ret = write_atomic(real, out, &st, err);
	if (!ret) {
		*path = primary;
		primary = NULL;
	} else {
		*change = CNI_CONF_UNCHANGED;
	}
out:
	free(out);
	free(text);
	free(real);
	free(primary);
	return ret;
}

static int remove_from_file(const char *path, bool *changed, struct socklb_err *err)
{
	char *real = NULL, *text = NULL, *out = NULL;
	struct stat st;
	int ret;

	*changed = false;
	ret = resolve(path, &real, err);
	if (!ret)
		ret = read_text(real, &text, &st, err);
	/* A file that never mentions socklb holds no entry of ours, broken or not. */
	if (!ret && strstr(text, CNI_PLUGIN_TYPE))
		ret = cni_conflist_drop(real, text, &out, err);
	if (!ret && out) {
		ret = write_atomic(real, out, &st, err);
		*changed = !ret;
	}
	free(out);
	free(text);
	free(real);
	return ret;
}

int cni_conf_remove(const struct cni_install_opts *o, int *removed, struct socklb_err *err)
{
	const struct dirent *de;
	DIR *d;
	int ret = 0;

	*removed = 0;
	d = opendir(o->conf_dir);
	if (!d)
		return socklb_fail(err, socklb_errno(), "cannot read the CNI config dir %s: %s", o->conf_dir,
				   strerror(errno));
	/* We only ever write our entry into .conflist files. */
	while (!ret && (de = readdir(d))) {
		char *path = NULL;
		bool changed;

		if (!has_suffix(de->d_name, ".conflist") || is_directory(d, de))
			continue;
		if (asprintf(&path, "%s/%s", o->conf_dir, de->d_name) < 0) {
			ret = socklb_fail(err, -ENOMEM, "out of memory");
			break;
		}
		ret = remove_from_file(path, &changed, err);
		if (!ret && changed) {
			pr_info("removed socklb from %s", path);
			(*removed)++;
		}
		free(path);
	}
	closedir(d);
	return ret;
}

/* The plugin binary ----------------------------------------------------------- */

static int plugin_source(const struct cni_install_opts *o, char *buf, size_t len, struct socklb_err *err)
{
	char self[PATH_MAX], dir[PATH_MAX];
	ssize_t n;

	if (o->plugin_binary) {
		snprintf(buf, len, "%s", o->plugin_binary);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return socklb_fail(err, socklb_errno(),
				   "cannot find our own executable (/proc/self/exe): %s; use --plugin-binary",
				   strerror(errno));
	self[n] = '\0';
	socklb_dir_of(self, dir, sizeof(dir));
	if ((size_t)snprintf(buf, len, "%s/%s", dir, PLUGIN_FILE_NAME) >= len)
		return socklb_fail(err, -ENAMETOOLONG, "%s: path too long", dir);
	return 0;
}

/* 1 when the two open files hold the same bytes, 0 when not, negative errno on a read error. */
static int same_content(int a, int b)
{
	char x[65536], y[65536];

	for (;;) {
		ssize_t n = read(a, x, sizeof(x)), m;

		if (n < 0)
			return socklb_errno();
		m = read(b, y, (size_t)n);
		if (m < 0)
			return socklb_errno();
		if (m != n || memcmp(x, y, (size_t)n) != 0)
			return 0;
		if (n == 0)
			return 1;
	}
}

/* 1 when dest already is src (same file, or same bytes with mode 0755), 0 when it needs writing. */
static int plugin_up_to_date(int src_fd, const struct stat *src, const char *dest)
{
	struct stat st;
	int fd, ret;

	fd = open(dest, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (st.st_dev == src->st_dev && st.st_ino == src->st_ino) {
		close(fd);
		return 1;
	}
	ret = (st.st_mode & 07777) == 0755 && st.st_size == src->st_size && same_content(src_fd, fd) == 1;
	close(fd);
	return ret;
}

static int copy_fd(int from, int to)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return socklb_errno();
		if (n == 0)
			return 0;
		ret = socklb_write_all(to, buf, (size_t)n);
		if (ret)
			return ret;
	}
}

int cni_plugin_install(const struct cni_install_opts *o, bool *changed, struct socklb_err *err)
{
	char src[PATH_MAX], dest[PATH_MAX];
	struct socklb_atomic_file tmp;
	int src_fd, ret;
	struct stat st;

	*changed = false;
	ret = plugin_source(o, src, sizeof(src), err);
	if (ret)
		return ret;
	if ((size_t)snprintf(dest, sizeof(dest), "%s/%s", o->bin_dir, PLUGIN_FILE_NAME) >= sizeof(dest))
		return socklb_fail(err, -ENAMETOOLONG, "%s: path too long", o->bin_dir);
	src_fd = open(src, O_RDONLY | O_CLOEXEC);
	if (src_fd < 0)
		return socklb_fail(err, socklb_errno(), "plugin binary %s: %s (use --plugin-binary)", src,
				   strerror(errno));
	if (fstat(src_fd, &st) || !S_ISREG(st.st_mode)) {
		ret = socklb_fail(err, -EINVAL, "plugin binary %s: not a regular file", src);
		goto out;
	}
	ret = plugin_up_to_date(src_fd, &st, dest);
	if (ret == 1) {
		ret = 0;
		goto out;
	}
	if (lseek(src_fd, 0, SEEK_SET) < 0) {
		ret = socklb_fail(err, socklb_errno(), "plugin binary %s: %s", src, strerror(errno));
		goto out;
	}
	/* rename, never write in place: a runtime may be executing the old binary right now (ETXTBSY). */
	ret = socklb_atomic_begin(&tmp, dest, 0755, err);
	if (ret)
		goto out;
	ret = copy_fd(src_fd, tmp.fd);
	if (ret) {
		socklb_fail(err, ret, "cannot copy %s to %s: %s", src, tmp.tmp, strerror(-ret));
		socklb_atomic_abort(&tmp);
		goto out;
	}
	ret = socklb_atomic_commit(&tmp, err);
	*changed = !ret;
out:
	close(src_fd);
	return ret;
}

int cni_plugin_uninstall(const struct cni_install_opts *o, struct socklb_err *err)
{
	char dest[PATH_MAX];

	if ((size_t)snprintf(dest, sizeof(dest), "%s/%s", o->bin_dir, PLUGIN_FILE_NAME) >= sizeof(dest))
		return socklb_fail(err, -ENAMETOOLONG, "%s: path too long", o->bin_dir);
	if (unlink(dest) && errno != ENOENT)
		return socklb_fail(err, socklb_errno(), "cannot remove %s: %s", dest, strerror(errno));
	return 0;
}

/* The commands -------------------------------------------------------------- */

static const char *change_text(enum cni_conf_change change)
{
	switch (change) {
	case CNI_CONF_INSERTED:
		return "added socklb at the end of the plugins in";
	case CNI_CONF_UPDATED:
		return "updated the socklb entry in";
	case CNI_CONF_UNCHANGED:
	default:
		return "socklb is already in";
	}
}

int cni_install_main(const struct cni_install_opts *o)
{
	enum cni_conf_change change;
	struct socklb_err err;
	char *entry = NULL, *path = NULL;
	bool changed;
	int ret;

	/* Check the entry before touching anything; the binary goes first so no conflist names a missing plugin. */
	ret = cni_entry_build(o->entry_config, &entry, &err);
	if (!ret)
		ret = cni_plugin_install(o, &changed, &err);
	if (ret)
		goto out;
	pr_info("%s/" PLUGIN_FILE_NAME " %s", o->bin_dir, changed ? "installed" : "is up to date");
	ret = cni_conf_ensure(o, entry, CNI_ENTRY_REPLACE, &path, &change, &err);
	if (ret)
		goto out;
	if (path)
		pr_info("%s %s", change_text(change), path);
	else
		pr_warn("no network config (*.conf, *.conflist, *.json) in %s yet: socklb-syncd --cni-conf-dir adds "
			"the entry once the primary CNI writes one",
			o->conf_dir);
out:
	if (ret)
		pr_err("install-cni failed: %s", err.msg);
	free(path);
	free(entry);
	return ret;
}

int cni_uninstall_main(const struct cni_install_opts *o)
{
	struct socklb_err err;
	int ret, removed = 0;

	/* Entries first: a conflist must never name a plugin that is gone. */
	ret = cni_conf_remove(o, &removed, &err);
	if (!ret) {
		if (!removed)
			pr_info("no socklb entry in %s", o->conf_dir);
		ret = cni_plugin_uninstall(o, &err);
	}
	if (ret) {
		pr_err("uninstall-cni failed: %s", err.msg);
		return ret;
	}
	pr_info("removed %s/" PLUGIN_FILE_NAME, o->bin_dir);
	return 0;
}
