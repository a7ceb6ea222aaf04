// SPDX-License-Identifier: Apache-2.0
/* The conf-dir watcher: socklb comes back within a second after the primary CNI rewrites its config. No root needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "cni_install.h"
#include "cni_watch.h"
#include "log.h"
#include "test_cni_install_helpers.h"

/*
 * How long a check waits for the entry to come back. The goal is under 1 s,
 * but timings never decide a test here (a loaded CI machine stalls): the
 * time taken is printed, the deadline only stops a test that would hang.
 */
#define REINSERT_DEADLINE_MS 10000

struct node {
	char *root;
	char conf[PATH_MAX];
	struct cni_install_opts opts;
	struct cni_watch *watch;
};

static int node_setup(void **state)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	n->root = make_node_dirs();
	if (!n->root) {
		free(n);
		return -1;
	}
	snprintf(n->conf, sizeof(n->conf), "%s/net.d", n->root);
	cni_install_opts_init(&n->opts);
	n->opts.conf_dir = n->conf;
	*state = n;
	return 0;
}

static int node_teardown(void **state)
{
	struct node *n = *state;

	cni_watch_stop(n->watch);
	remove_tree(n->root);
	free(n->root);
	free(n);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds until dir/name equals the fixture want (-1: not within the deadline). */
static long wait_for_content(const char *dir, const char *name, const char *want_fixture)
{
	char *want = fixture(want_fixture);
	long start = now_ms(), waited = -1;

	assert_non_null(want);
	while (now_ms() - start <= REINSERT_DEADLINE_MS) {
		char *text = dir_file(dir, name);
		bool same = text && strcmp(text, want) == 0;

		free(text);
		if (same) {
			waited = now_ms() - start;
			break;
		}
		usleep(5000);
	}
	free(want);
	return waited;
}

/* As flannel's init container does it: cp -f, which truncates and writes in place. */
static void rewrite_in_place(const char *dir, const char *name, const char *fixture_name)
{
	char *text = fixture(fixture_name), path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r+e");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 0), 0);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(text);
}

/* As tools that write a temp file and rename it over do. */
static void rewrite_by_rename(const char *dir, const char *name, const char *fixture_name)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(put_fixture(dir, fixture_name, strrchr(tmp, '/') + 1, 0644), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_reinserts_after_rewrites(void **state)
{
	struct node *n = *state;
	long ms, worst = 0;

	assert_int_equal(put_fixture(n->conf, "flannel.conflist", "10-flannel.conflist", 0644), 0);
	assert_int_equal(cni_watch_start(&n->opts, &n->watch, NULL), 0);
	ms = wait_for_content(n->conf, "10-flannel.conflist", "expected/flannel.conflist");
	assert_in_range(ms, 0, REINSERT_DEADLINE_MS);

	for (int round = 0; round < 3; round++) {
		rewrite_in_place(n->conf, "10-flannel.conflist", "flannel.conflist");
		ms = wait_for_content(n->conf, "10-flannel.conflist", "expected/flannel.conflist");
		assert_in_range(ms, 0, REINSERT_DEADLINE_MS);
		worst = ms > worst ? ms : worst;

		rewrite_by_rename(n->conf, "10-flannel.conflist", "flannel.conflist");
		ms = wait_for_content(n->conf, "10-flannel.conflist", "expected/flannel.conflist");
		assert_in_range(ms, 0, REINSERT_DEADLINE_MS);
		worst = ms > worst ? ms : worst;
	}
	print_message("# socklb was back in the rewritten conflist within %ld ms (worst of 6 rewrites)\n", worst);
}

static void test_waits_for_the_primary_cni(void **state)
{
	struct node *n = *state;

	assert_int_equal(cni_watch_start(&n->opts, &n->watch, NULL), 0);
	usleep(100000);
	assert_int_equal(put_fixture(n->conf, "calico.conflist", "10-calico.conflist", 0644), 0);
	assert_in_range(wait_for_content(n->conf, "10-calico.conflist", "expected/calico.conflist"), 0,
			REINSERT_DEADLINE_MS);
}

static void test_rewraps_a_rewritten_conf(void **state)
{
	struct node *n = *state;

	assert_int_equal(put_fixture(n->conf, "bridge.conf", "10-bridge.conf", 0644), 0);
	assert_int_equal(cni_watch_start(&n->opts, &n->watch, NULL), 0);
	assert_in_range(wait_for_content(n->conf, "10-bridge.conflist", "expected/bridge.conflist"), 0,
			REINSERT_DEADLINE_MS);
	assert_int_equal(put_fixture(n->conf, "bridge.conf", "10-bridge.conf", 0644), 0);
	assert_in_range(wait_for_content(n->conf, "10-bridge.conflist", "expected/bridge.conflist"), 0,
			REINSERT_DEADLINE_MS);
	usleep(100000);
	assert_null(dir_file(n->conf, "10-bridge.conf"));
}

static void test_leaves_a_broken_file_alone(void **state)
{
	struct node *n = *state;
	char *text, *broken = fixture("malformed-json.conflist");

	assert_int_equal(put_fixture(n->conf, "malformed-json.conflist", "10-flannel.conflist", 0644), 0);
	assert_int_equal(cni_watch_start(&n->opts, &n->watch, NULL), 0);
	usleep(300000);
	text = dir_file(n->conf, "10-flannel.conflist");
	assert_string_equal(text, broken);
	free(text);
	/* Fixed by its owner: now it gets the entry. */
	rewrite_in_place(n->conf, "10-flannel.conflist", "flannel.conflist");
	assert_in_range(wait_for_content(n->conf, "10-flannel.conflist", "expected/flannel.conflist"), 0,
			REINSERT_DEADLINE_MS);
	free(broken);
}

static void test_keeps_an_existing_entry(void **state)
{
	static const char custom[] = "{\n  \"name\": \"n\",\n  \"plugins\": [\n    {\"type\": \"bridge\"},\n"
				     "    {\"type\": \"socklb\", \"namespaces\": [\"*\"]}\n  ]\n}\n";
	struct node *n = *state;
	char path[PATH_MAX], *text;
	struct stat before, after;

	snprintf(path, sizeof(path), "%s/10-n.conflist", n->conf);
	assert_int_equal(put_file(path, custom, 0644), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(cni_watch_start(&n->opts, &n->watch, NULL), 0);
	usleep(200000);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	text = slurp(path);
	assert_string_equal(text, custom);
	free(text);
}

static void test_start_errors(void **state)
{
	struct node *n = *state;
	struct cni_watch *w = NULL;
	char missing[PATH_MAX];
	struct socklb_err e;

	snprintf(missing, sizeof(missing), "%s/missing", n->root);
	n->opts.conf_dir = missing;
	assert_int_equal(cni_watch_start(&n->opts, &w, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cni: cannot watch "));
	assert_non_null(strstr(e.msg, "/missing: No such file or directory"));
	n->opts.conf_dir = n->conf;
	n->opts.entry_config = "{\"type\":\"x\"}";
	assert_int_equal(cni_watch_start(&n->opts, &w, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "cni: socklb entry config: \"type\" is set by the installer or the runtime"));
	assert_null(w);
	cni_watch_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reinserts_after_rewrites, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_waits_for_the_primary_cni, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_rewraps_a_rewritten_conf, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_leaves_a_broken_file_alone, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_keeps_an_existing_entry, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, node_setup, node_teardown),
	};

	/* The watcher's info lines would interleave with the test output. */
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
