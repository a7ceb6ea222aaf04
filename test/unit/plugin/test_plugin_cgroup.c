// SPDX-License-Identifier: Apache-2.0
/*
 * Pod cgroup resolution against a temporary directory tree laid out like
 * kubelet's: systemd slice expansion, the cgroupfs names, every QoS class,
 * and the error that lists what was tried. No root, no real cgroups.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pod_cgroup.h"

#define UID "6f1a2b3c-0000-4d5e-8f90-123456789abc"
#define UID_ "6f1a2b3c_0000_4d5e_8f90_123456789abc"

static char tmp[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test_plugin_cgroup.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd);
}

/* mkdir -p tmp/rel */
static void make_dir(const char *rel)
{
	char path[PATH_MAX], *p;

	snprintf(path, sizeof(path), "%s%s", tmp, rel);
	for (p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void remove_dir(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", tmp, rel);
	assert_int_equal(rmdir(path), 0);
}

static void expect_expansion(const char *leaf, const char *want)
{
	char buf[PATH_MAX];

	assert_int_equal(systemd_slice_expand(leaf, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_systemd_leaf_expansion(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	expect_expansion("kubepods-burstable-pod" UID_ ".slice",
			 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice");
	expect_expansion("kubepods-besteffort-pod" UID_ ".slice",
			 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice");
	expect_expansion("kubepods-pod" UID_ ".slice", "/kubepods.slice/kubepods-pod" UID_ ".slice");
	expect_expansion("kubepods.slice", "/kubepods.slice");

	assert_int_equal(systemd_slice_expand("kubepods", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand(".slice", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand("-kubepods.slice", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand("kubepods-.slice", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand("kube--pods.slice", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand("a/b.slice", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(systemd_slice_expand("a-b-c.slice", buf, 10), -ENAMETOOLONG);
}

static void test_candidates_from_uid(void **state)
{
	struct pod_cgroup_query q = { .root = "/cg", .pod_uid = UID };
	struct pod_cgroup_candidates *c = malloc(sizeof(*c));
	struct cni_error err = { 0 };

	(void)state;
	assert_int_equal(pod_cgroup_candidates(&q, c, &err), 0);
	assert_int_equal(c->count, 6);
	assert_string_equal(c->path[0],
			    "/cg/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice");
	assert_string_equal(c->path[1],
			    "/cg/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice");
	assert_string_equal(c->path[2], "/cg/kubepods.slice/kubepods-pod" UID_ ".slice");
	assert_string_equal(c->path[3], "/cg/kubepods/burstable/pod" UID);
	assert_string_equal(c->path[4], "/cg/kubepods/besteffort/pod" UID);
	assert_string_equal(c->path[5], "/cg/kubepods/pod" UID);
	free(c);
}

static void test_candidates_from_cgroup_path(void **state)
{
	struct pod_cgroup_query q = { .root = "/cg/kubelet", .mount = "/cg" };
	struct pod_cgroup_candidates *c = malloc(sizeof(*c));
	struct cni_error err = { 0 };

	(void)state;
	/* A full path: under kubelet's root, then under the mount. */
	q.cgroup_path = "/kubepods/burstable/pod" UID;
	assert_int_equal(pod_cgroup_candidates(&q, c, &err), 0);
	assert_int_equal(c->count, 2);
	assert_string_equal(c->path[0], "/cg/kubelet/kubepods/burstable/pod" UID);
	assert_string_equal(c->path[1], "/cg/kubepods/burstable/pod" UID);

	/* A leaf slice is expanded; then the UID names follow. */
	q.root = q.mount = "/cg";
	q.cgroup_path = "kubepods-besteffort-pod" UID_ ".slice";
	q.pod_uid = UID;
	assert_int_equal(pod_cgroup_candidates(&q, c, &err), 0);
	assert_string_equal(c->path[0],
			    "/cg/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice");
	/* ...without repeating it. */
	assert_int_equal(c->count, 6);

	/* The root "/" does not double the slash. */
	q.root = "/";
	q.mount = NULL;
	q.pod_uid = NULL;
	q.cgroup_path = "/kubepods/pod" UID;
	assert_int_equal(pod_cgroup_candidates(&q, c, &err), 0);
	assert_string_equal(c->path[0], "/kubepods/pod" UID);

	q.cgroup_path = "/kubepods/../../etc";
	assert_int_equal(pod_cgroup_candidates(&q, c, &err), -1);
	assert_int_equal(err.code, 7);
	assert_non_null(strstr(err.msg, "runtimeConfig.cgroupPath"));
	/* Named once: main logs "msg: details". */
	assert_null(strstr(err.details, "cgroupPath"));
	free(c);
}

/* Each QoS class and driver resolves to its directory from the UID alone. */
static void test_find_every_qos_and_driver(void **state)
{
	static const char *const dirs[] = {
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice",
		"/kubepods.slice/kubepods-pod" UID_ ".slice",
		"/kubepods/burstable/pod" UID,
		"/kubepods/besteffort/pod" UID,
		"/kubepods/pod" UID,
	};
	struct pod_cgroup_query q = { .root = tmp, .pod_uid = UID };
	char found[PATH_MAX], want[PATH_MAX];
	struct cni_error err = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		make_dir(dirs[i]);
		assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), 0);
		snprintf(want, sizeof(want), "%s%s", tmp, dirs[i]);
		assert_string_equal(found, want);
		remove_dir(dirs[i]);
	}
}

static void test_find_cgroup_path_first(void **state)
{
	struct pod_cgroup_query q = { .root = tmp, .pod_uid = UID };
	char found[PATH_MAX], want[PATH_MAX];
	struct cni_error err = { 0 };

	(void)state;
	/* Both exist: runtimeConfig.cgroupPath wins over the UID guess. */
	make_dir("/kubepods/burstable/pod" UID);
	make_dir("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice");
	q.cgroup_path = "/kubepods/burstable/pod" UID;
	assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), 0);
	snprintf(want, sizeof(want), "%s/kubepods/burstable/pod" UID, tmp);
	assert_string_equal(found, want);

	/* A cgroupPath that does not exist falls back to the UID names. */
	q.cgroup_path = "/elsewhere/pod" UID;
	assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), 0);
	snprintf(want, sizeof(want), "%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
		 tmp);
	assert_string_equal(found, want);

	/* The leaf form, as CRI-O with systemd sends it. */
	q.cgroup_path = "kubepods-burstable-pod" UID_ ".slice";
	q.pod_uid = NULL;
	assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), 0);
	assert_string_equal(found, want);
}

static void test_not_found_lists_tried(void **state)
{
	struct pod_cgroup_query q = { .root = tmp, .pod_uid = "00000000-0000-0000-0000-000000000000" };
	struct cni_error err = { 0 };
	char found[PATH_MAX];

	(void)state;
	q.cgroup_path = "/kubepods/podmissing";
	assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), -1);
	assert_int_equal(err.code, SOCKLB_ERR_CGROUP);
	assert_non_null(strstr(err.details, "/kubepods/podmissing (No such file or directory)"));
	assert_non_null(strstr(err.details, "kubepods-besteffort-pod00000000_0000_0000_0000_000000000000.slice"));
	assert_non_null(strstr(err.details, "/kubepods/pod00000000-0000-0000-0000-000000000000"));

	/* Nothing to go by at all. */
	memset(&err, 0, sizeof(err));
	q.cgroup_path = NULL;
	q.pod_uid = NULL;
	assert_int_equal(pod_cgroup_find(&q, found, sizeof(found), &err), -1);
	assert_int_equal(err.code, SOCKLB_ERR_CGROUP);
	assert_non_null(strstr(err.details, "K8S_POD_UID"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_leaf_expansion),	    cmocka_unit_test(test_candidates_from_uid),
		cmocka_unit_test(test_candidates_from_cgroup_path), cmocka_unit_test(test_find_every_qos_and_driver),
		cmocka_unit_test(test_find_cgroup_path_first),	    cmocka_unit_test(test_not_found_lists_tried),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
