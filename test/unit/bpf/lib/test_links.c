// SPDX-License-Identifier: Apache-2.0
/*
 * The links module's own logic, on a plain temporary directory standing for
 * a bpffs root (no root, no BPF): attachment names, the listing, GC's sweep
 * of what the runtime no longer lists, the lock, and what CHECK says of a
 * missing link. Real links are the integration tests' (plugin_cni.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "datapath.h"
#include "links.h"

static char root[] = "/tmp/socklb-test-links.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

/* An attachment directory holding a file per hook, as a pinned one holds a link per hook. */
static void fake_attachment(const char *container_id, const char *ifname)
{
	char dir[512], path[600];
	int h, fd;

	assert_int_equal(socklb_attachment_dir(root, container_id, ifname, dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (h = 0; h < SOCKLB_HOOK_COUNT; h++) {
		snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[h].name);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
}

static bool exists(const char *container_id, const char *ifname)
{
	char dir[512];
	struct stat st;

	assert_int_equal(socklb_attachment_dir(root, container_id, ifname, dir, sizeof(dir)), 0);
	return stat(dir, &st) == 0;
}

static void test_names_are_distinct(void **state)
{
	char a[256], b[256];

	(void)state;
	assert_int_equal(socklb_attachment_dir("/r", "a_b", "c", a, sizeof(a)), 0);
	assert_int_equal(socklb_attachment_dir("/r", "a", "b_c", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(socklb_attachment_dir("/r", "cnitool-1f2e", "eth0", a, sizeof(a)), 0);
	assert_string_equal(a, "/r/links/cnitool-1f2e_-eth0");
	/* bpffs refuses '.', and '/' must not leave the links directory */
	assert_int_equal(socklb_attachment_dir("/r", "../x", "net1.2", a, sizeof(a)), 0);
	assert_string_equal(a, "/r/links/_2e_2e_2fx_-net1_2e2");
	assert_int_equal(socklb_attachment_name_decode("_2e_2e_2fx_-net1_2e2", b, sizeof(b)), 0);
	assert_string_equal(b, "../x/net1.2");
	assert_int_equal(socklb_attachment_dir("/r", "", "eth0", a, sizeof(a)), -EINVAL);
	assert_int_equal(socklb_attachment_dir("/r", "abc", "eth0", a, 12), -ENAMETOOLONG);
}

static int count(const char *name, const char *dir, void *ctx)
{
	size_t *n = ctx;

	(void)name;
	assert_non_null(strstr(dir, "/links/"));
	(*n)++;
	return 0;
}

static int stop_at_first(const char *name, const char *dir, void *ctx)
{
	(void)name;
	(void)dir;
	(void)ctx;
	return 7;
}

static void test_foreach_and_gc(void **state)
{
	const struct socklb_attachment_ref keep[] = { { "kept", "eth0" }, { "absent", "eth0" }, { "", "bad" } };
	struct socklb_gc_result res;
	struct socklb_err err;
	size_t n = 0;
	int lock;

	(void)state;
	/* no links directory yet: nothing listed, nothing to collect, no lock to take */
	assert_int_equal(socklb_attachments_foreach(root, count, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(socklb_attachments_gc(root, keep, 3, &res, &err), 0);
	assert_int_equal(socklb_links_lock(root, false, &err), -ENOENT);

	lock = socklb_links_lock(root, true, &err);
	assert_true(lock >= 0);
	socklb_links_unlock(lock);
	fake_attachment("kept", "eth0");
	fake_attachment("kept", "net1");
	fake_attachment("stale", "eth0");
	assert_int_equal(socklb_attachments_foreach(root, count, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(socklb_attachments_foreach(root, stop_at_first, NULL, &err), 7);

	assert_int_equal(socklb_attachments_gc(root, keep, 3, &res, &err), 0);
	assert_int_equal(res.failed_step, SOCKLB_GC_DONE);
	assert_int_equal(res.kept, 1);
	assert_int_equal(res.removed, 2);
	assert_int_equal(res.failed, 0);
	assert_true(exists("kept", "eth0"));
	assert_false(exists("kept", "net1"));
	assert_false(exists("stale", "eth0"));
}

static void test_detach_and_check(void **state)
{
	char dir[512], datapath[NAME_MAX + 1], path[600];
	struct socklb_programs p;
	struct socklb_err err;

	(void)state;
	fake_attachment("check", "eth0");
	assert_int_equal(socklb_attachment_dir(root, "check", "eth0", dir, sizeof(dir)), 0);
	/* files, not links: CHECK cannot read them */
	for (int h = 0; h < SOCKLB_HOOK_COUNT; h++)
		p.fd[h] = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, socklb_hooks[0].name);
	unlink(path);
	assert_int_equal(socklb_attachment_check(root, &p, dir, 0, datapath, sizeof(datapath), &err), -ENOENT);
	assert_int_equal(err.code, -ENOENT);
	assert_non_null(strstr(err.msg, "socklb_connect4 is missing"));
	assert_int_equal(socklb_attachment_cgroup_id(dir), 0);

	assert_int_equal(socklb_detach(dir, &err), 0);
	assert_false(exists("check", "eth0"));
	/* already gone is success */
	assert_int_equal(socklb_detach(dir, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_are_distinct),
		cmocka_unit_test(test_foreach_and_gc),
		cmocka_unit_test(test_detach_and_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
