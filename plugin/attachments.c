// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attachments.h"
#include "datapath.h"
#include "log.h"

#define LINKS_DIR "links"

int attachments_lock(const char *root, bool create)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/" LINKS_DIR, root) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int ret = -errno;

			close(fd);
			return ret;
		}
	}
	return fd;
}

void attachments_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last fd of the open file releases the flock */
}

/* The directory names of the attachments to keep, as socklb_attachment_dir() spells them. */
static char **keep_names(const char *root, const struct attachment_ref *keep, size_t n)
{
	char path[PATH_MAX], **names = calloc(n + 1, sizeof(*names));
	const char *base;
	size_t i;

	if (!names)
		return NULL;
	for (i = 0; i < n; i++) {
		/* An entry we cannot even name cannot match a directory of ours: skip it. */
		if (socklb_attachment_dir(root, keep[i].container_id, keep[i].ifname, path, sizeof(path)))
			continue;
		base = strrchr(path, '/');
		names[i] = strdup(base ? base + 1 : path);
		if (!names[i])
			goto fail;
	}
	return names;
fail:
	while (i--)
		free(names[i]);
	free(names);
	return NULL;
}

static bool kept(char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int sweep(const char *root, char *const *names, size_t n, struct cni_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX], failed[CNI_ERROR_DETAILS_LEN] = "";
	size_t off = 0, removed = 0, nfailed = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ret;

	snprintf(dir, sizeof(dir), "%s/" LINKS_DIR, root);
	d = opendir(dir);
	if (!d)
		return cni_fail(err, SOCKLB_ERR_BPFFS, "cannot list the attachments", "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || kept(names, n, de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		ret = socklb_detach(path);
		if (ret) {
			nfailed++;
			if (off < sizeof(failed))
				off += snprintf(failed + off, sizeof(failed) - off, "%s%s (%s)", off ? ", " : "", path,
						strerror(-ret));
			continue;
		}
		removed++;
		pr_info("GC: removed attachment %s", path);
	}
	closedir(d);
	pr_info("GC: kept %zu listed attachment(s), removed %zu", n, removed);
	if (nfailed)
		return cni_fail(err, SOCKLB_ERR_DETACH, "cannot remove stale attachments", "%zu failed: %s", nfailed,
				failed);
	return 0;
}

int attachments_gc(const char *root, const struct attachment_ref *keep, size_t keep_count, struct cni_error *err)
{
	char **names;
	int lock, ret;

	lock = attachments_lock(root, false);
	if (lock == -ENOENT)
		return 0;
	if (lock < 0)
		return cni_fail(err, cni_code_for_errno(lock, SOCKLB_ERR_BPFFS), "cannot lock the attachments",
				"%s/" LINKS_DIR ": %s", root, strerror(-lock));
	names = keep_names(root, keep, keep_count);
	if (!names) {
		attachments_unlock(lock);
		return cni_fail(err, SOCKLB_ERR_INTERNAL, "out of memory", "listing the attachments to keep");
	}
	sweep(root, names, keep_count, err);
	free_names(names, keep_count);
	/* With the stale links gone, so go the older datapath builds no remaining link runs. */
	ret = socklb_programs_prune(root);
	if (ret < 0)
		cni_fail(err, cni_code_for_errno(ret, SOCKLB_ERR_DETACH), "cannot remove unused datapath programs",
			 "older datapath builds under %s/prog: %s", root, strerror(-ret));
	attachments_unlock(lock);
	return err->code ? -1 : 0;
}
