// SPDX-License-Identifier: Apache-2.0
/*
 * The shared file system steps (fsutil.h): private directories, directory
 * locks, whole-file reads (of files and pipes, at and past their limit) and
 * atomic replacement, with the messages their errors carry. In a private
 * temporary directory; no root needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsutil.h"

static char dir[] = "/tmp/socklb-test-fsutil.XXXXXX";

static int setup(void **state)
{
	(void)state;
	umask(022);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_mkdir(void **state)
{
	char path[256], file[256];
	struct socklb_err err;

	(void)state;
	path_in(path, sizeof(path), "a");
	assert_int_equal(socklb_mkdir(path, 0700, false, &err), 0);
	assert_int_equal(mode_of(path), 0700);
	/* there already: fine, whatever its mode */
	chmod(path, 0755);
	assert_int_equal(socklb_mkdir(path, 0700, false, &err), 0);

	path_in(path, sizeof(path), "b/c/d");
	assert_int_equal(socklb_mkdir(path, 0700, false, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot create the directory"));
	assert_non_null(strstr(err.msg, "b/c/d: No such file or directory"));
	assert_int_equal(socklb_mkdir(path, 0700, true, &err), 0);
	assert_int_equal(mode_of(path), 0700);
	path_in(path, sizeof(path), "b/c");
	assert_int_equal(mode_of(path), 0700);

	/* a file in the way, as the last part or as a parent */
	path_in(file, sizeof(file), "file");
	write_text(file, "x");
	assert_int_equal(socklb_mkdir(file, 0700, false, &err), -ENOTDIR);
	assert_int_equal(err.code, -ENOTDIR);
	assert_non_null(strstr(err.msg, "a file that is not a directory is there"));
	path_in(path, sizeof(path), "file/sub");
	assert_int_equal(socklb_mkdir(path, 0700, true, &err), -ENOTDIR);
	/* no context wanted */
	assert_int_equal(socklb_mkdir(file, 0700, false, NULL), -ENOTDIR);
}

static void test_dir_lock(void **state)
{
	char path[256];
	struct socklb_err err;
	int a, b;

	(void)state;
	path_in(path, sizeof(path), "lock/here");
	assert_int_equal(socklb_dir_lock(path, false, false, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot open the directory"));
	a = socklb_dir_lock(path, true, false, &err);
	assert_true(a >= 0);
	assert_int_equal(mode_of(path), 0700);
	/* flock is per open file: a second one, even in this process, waits or is told -EBUSY */
	b = socklb_dir_lock(path, false, true, &err);
	assert_int_equal(b, -EBUSY);
	assert_non_null(strstr(err.msg, "another process holds it"));
	socklb_dir_unlock(a);
	b = socklb_dir_lock(path, false, true, &err);
	assert_true(b >= 0);
	socklb_dir_unlock(b);
	socklb_dir_unlock(-1);
}

static void test_file_read(void **state)
{
	char path[256], *text;
	struct socklb_err err;
	size_t len;

	(void)state;
	path_in(path, sizeof(path), "read");
	write_text(path, "hello\n");
	assert_int_equal(socklb_file_read(path, 100, &text, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(text, "hello\n");
	free(text);
	/* exactly the limit is fine, one byte more is not */
	assert_int_equal(socklb_file_read(path, 6, &text, NULL, &err), 0);
	free(text);
	assert_int_equal(socklb_file_read(path, 5, &text, &len, &err), -EFBIG);
	assert_null(text);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err.msg, "larger than 5 bytes"));

	write_text(path, "");
	assert_int_equal(socklb_file_read(path, 100, &text, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(text, "");
	free(text);

	path_in(path, sizeof(path), "missing");
	assert_int_equal(socklb_file_read(path, 100, &text, &len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot open "));
	assert_non_null(strstr(err.msg, "missing: No such file or directory"));
	/* a directory opens, and fails to read */
	assert_int_equal(socklb_file_read(dir, 100, &text, &len, &err), -EISDIR);
	assert_non_null(strstr(err.msg, "cannot read "));
}

/* A pipe has no size to go by: the buffer grows, up to the limit. */
static void test_fd_read_pipe(void **state)
{
	static char big[100000];
	struct socklb_err err;
	char *text;
	size_t len;
	int fds[2];
	pid_t pid;

	(void)state;
	memset(big, 'x', sizeof(big));
	for (int limit = 0; limit < 2; limit++) {
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(socklb_write_all(fds[1], big, sizeof(big)) ? 1 : 0);
		}
		close(fds[1]);
		if (!limit) {
			assert_int_equal(socklb_fd_read(fds[0], "the pipe", sizeof(big), &text, &len, &err), 0);
			assert_int_equal(len, sizeof(big));
			assert_int_equal(strlen(text), sizeof(big));
			free(text);
		} else {
			assert_int_equal(socklb_fd_read(fds[0], "the pipe", sizeof(big) - 1, &text, &len, &err),
					 -EFBIG);
			assert_string_equal(err.msg, "the pipe: larger than 99999 bytes");
		}
		close(fds[0]);
		waitpid(pid, NULL, 0);
	}
}

static size_t entries(const char *path)
{
	DIR *d = opendir(path);
	const struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || strncmp(de->d_name, ".socklb-", 8) == 0;
	closedir(d);
	return n;
}

static void test_write_atomic(void **state)
{
	char sub[256], path[256], *text;
	struct socklb_atomic_file f;
	struct socklb_err err;

	(void)state;
	path_in(sub, sizeof(sub), "atomic");
	assert_int_equal(socklb_mkdir(sub, 0700, false, &err), 0);
	snprintf(path, sizeof(path), "%s/file.conf", sub);
	assert_int_equal(socklb_file_write_atomic(path, "one", 3, 0640, &err), 0);
	assert_int_equal(mode_of(path), 0640);
	assert_int_equal(socklb_file_write_atomic(path, "two!", 4, 0600, &err), 0);
	assert_int_equal(socklb_file_read(path, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "two!");
	free(text);
	assert_int_equal(mode_of(path), 0600);
	/* no temp file left behind */
	assert_int_equal(entries(sub), 1);

	/* given up: the file is as it was, the temp file gone */
	assert_int_equal(socklb_atomic_begin(&f, path, 0644, &err), 0);
	assert_non_null(strstr(f.tmp, "/.socklb-"));
	assert_int_equal(socklb_write_all(f.fd, "three", 5), 0);
	assert_int_equal(entries(sub), 2);
	socklb_atomic_abort(&f);
	assert_int_equal(entries(sub), 1);
	assert_int_equal(socklb_file_read(path, 100, &text, NULL, &err), 0);
	assert_string_equal(text, "two!");
	free(text);

	snprintf(path, sizeof(path), "%s/missing/file", sub);
	assert_int_equal(socklb_file_write_atomic(path, "x", 1, 0600, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot create a file in "));
}

static void test_dir_of(void **state)
{
	char buf[64];

	(void)state;
	socklb_dir_of("/etc/cni/net.d/10.conflist", buf, sizeof(buf));
	assert_string_equal(buf, "/etc/cni/net.d");
	socklb_dir_of("/x", buf, sizeof(buf));
	assert_string_equal(buf, "/");
	socklb_dir_of("x", buf, sizeof(buf));
	assert_string_equal(buf, ".");
}

static void test_err_prefix(void **state)
{
	struct socklb_err err;

	(void)state;
	assert_int_equal(socklb_fail(&err, -EIO, "cannot read %s: %s", "f", strerror(EIO)), -EIO);
	socklb_err_prefix(&err, "kubeconfig %s", "k");
	assert_string_equal(err.msg, "kubeconfig k: cannot read f: Input/output error");
	assert_int_equal(err.code, -EIO);
	assert_int_equal(socklb_fail(NULL, -EIO, "nothing"), -EIO);
	socklb_err_prefix(NULL, "nothing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir),	     cmocka_unit_test(test_dir_lock),
		cmocka_unit_test(test_file_read),    cmocka_unit_test(test_fd_read_pipe),
		cmocka_unit_test(test_write_atomic), cmocka_unit_test(test_dir_of),
		cmocka_unit_test(test_err_prefix),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
