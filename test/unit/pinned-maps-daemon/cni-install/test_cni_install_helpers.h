/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the installer and watcher tests: fixtures, files and
 * temporary directories. Each test program includes this once.
 */
#ifndef SOCKLB_TEST_CNI_INSTALL_HELPERS_H
#define SOCKLB_TEST_CNI_INSTALL_HELPERS_H

#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fixtures live in the source tree: <root>/test/fixtures/conflist, with this binary in <root>/<build>/test/. */
static const char *fixture_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(dir, sizeof(dir), "%s/../../test/fixtures/conflist",
			 dirname(dirname(exe)) /* <root>/<build> */);
		if (access(dir, R_OK) == 0)
			return dir;
	}
	snprintf(dir, sizeof(dir), "test/fixtures/conflist");
	return dir;
}

/* The whole file as a string (free()), or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int c;

	if (!f)
		return NULL;
	out = open_memstream(&buf, &len);
	if (!out) {
		fclose(f);
		return NULL;
	}
	while ((c = fgetc(f)) != EOF)
		fputc(c, out);
	fclose(f);
	if (fclose(out)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *fixture(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	return slurp(path);
}

static int put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f))
		return -1;
	return chmod(path, mode);
}

/* Copy a fixture into dir under name. */
static int put_fixture(const char *dir, const char *fixture_name, const char *name, mode_t mode)
{
	char path[PATH_MAX];
	char *text = fixture(fixture_name);
	int ret;

	if (!text)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = put_file(path, text, mode);
	free(text);
	return ret;
}

static char *dir_file(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return slurp(path);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temp dir with bin/ and net.d/ inside. */
static char *make_node_dirs(void)
{
	char tmpl[] = "/tmp/socklb-cni-test-XXXXXX", path[PATH_MAX];
	char *dir = mkdtemp(tmpl);

	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/bin", dir);
	if (mkdir(path, 0755))
		return NULL;
	snprintf(path, sizeof(path), "%s/net.d", dir);
	if (mkdir(path, 0755))
		return NULL;
	return strdup(dir);
}

#endif /* SOCKLB_TEST_CNI_INSTALL_HELPERS_H */
