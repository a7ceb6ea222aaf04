// SPDX-License-Identifier: Apache-2.0
/* CNI_ARGS parsing and the CNI_* environment checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cni_env.h"

#define UID "6f1a2b3c-0000-4d5e-8f90-123456789abc"

static int parse(const char *text, struct cni_args *args, struct cni_error *err)
{
	memset(err, 0, sizeof(*err));
	return cni_args_parse(text, args, err);
}

static void test_kubernetes_args(void **state)
{
	struct cni_args args;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=web-0;"
			       "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=" UID,
			       &args, &err),
			 0);
	assert_string_equal(args.pod_namespace, "team-a");
	assert_string_equal(args.pod_name, "web-0");
	assert_string_equal(args.pod_uid, UID);
	cni_args_free(&args);
}

static void test_empty_and_absent(void **state)
{
	struct cni_args args;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse(NULL, &args, &err), 0);
	assert_null(args.pod_namespace);
	cni_args_free(&args);
	assert_int_equal(parse("", &args, &err), 0);
	cni_args_free(&args);
	/* Empty pairs and empty values are tolerated; an empty value is no value. */
	assert_int_equal(parse(";;K8S_POD_NAMESPACE=;K8S_POD_UID=;K8S_POD_NAME=p;", &args, &err), 0);
	assert_null(args.pod_namespace);
	assert_null(args.pod_uid);
	assert_string_equal(args.pod_name, "p");
	cni_args_free(&args);
}

static void test_unknown_keys_and_values_with_equals(void **state)
{
	struct cni_args args;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse("FOO=bar;K8S_POD_NAME=a=b;X=", &args, &err), 0);
	assert_string_equal(args.pod_name, "a=b");
	cni_args_free(&args);
	/* The last of repeated keys wins. */
	assert_int_equal(parse("K8S_POD_NAMESPACE=a;K8S_POD_NAMESPACE=b", &args, &err), 0);
	assert_string_equal(args.pod_namespace, "b");
	cni_args_free(&args);
}

static void test_bad_pairs(void **state)
{
	struct cni_args args;
	struct cni_error err;

	(void)state;
	assert_int_equal(parse("K8S_POD_NAME=a;garbage", &args, &err), -1);
	assert_int_equal(err.code, 4);
	assert_non_null(strstr(err.details, "garbage"));
	/* The msg names CNI_ARGS; main logs "msg: details", which names it once. */
	assert_non_null(strstr(err.msg, "CNI_ARGS"));
	assert_null(strstr(err.details, "CNI_ARGS"));
	assert_null(args.buf);
	assert_int_equal(parse("=value", &args, &err), -1);
	assert_int_equal(err.code, 4);
}

static void test_pod_uid_must_not_escape(void **state)
{
	struct cni_args args;
	struct cni_error err;

	(void)state;
	/* The UID names a cgroup directory: no path tricks. */
	assert_int_equal(parse("K8S_POD_UID=../../etc", &args, &err), -1);
	assert_int_equal(err.code, 4);
	assert_non_null(strstr(err.details, "K8S_POD_UID"));
	assert_int_equal(parse("K8S_POD_UID=abc/def", &args, &err), -1);
	assert_int_equal(err.code, 4);
}

static void test_container_id(void **state)
{
	struct cni_error err = { 0 };

	(void)state;
	assert_int_equal(cni_container_id_validate("3f6940ab5ab4", &err), 0);
	assert_int_equal(cni_container_id_validate("cnitool-1a2b_c.d-e", &err), 0);
	assert_int_equal(cni_container_id_validate("-leading", &err), -1);
	assert_int_equal(err.code, 4);
	assert_null(strstr(err.details, "CNI_CONTAINERID"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_container_id_validate("a/b", &err), -1);
	assert_int_equal(err.code, 4);
	assert_non_null(strstr(err.msg, "CNI_CONTAINERID"));
	assert_null(strstr(err.details, "CNI_CONTAINERID"));
}

static void test_ifname(void **state)
{
	struct cni_error err = { 0 };

	(void)state;
	assert_int_equal(cni_ifname_validate("eth0", &err), 0);
	assert_int_equal(cni_ifname_validate("123456789012345", &err), 0);
	assert_int_equal(cni_ifname_validate("1234567890123456", &err), -1);
	assert_int_equal(err.code, 4);
	assert_null(strstr(err.details, "CNI_IFNAME"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_ifname_validate("..", &err), -1);
	assert_null(strstr(err.details, "CNI_IFNAME"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_ifname_validate("a/b", &err), -1);
	assert_null(strstr(err.details, "CNI_IFNAME"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(cni_ifname_validate("eth 0", &err), -1);
	assert_non_null(strstr(err.msg, "CNI_IFNAME"));
	assert_null(strstr(err.details, "CNI_IFNAME"));
}

static char *fake_getenv(const char *name)
{
	static char command[] = "ADD", ifname[] = "eth0", empty[] = "";

	if (strcmp(name, "CNI_COMMAND") == 0)
		return command;
	if (strcmp(name, "CNI_IFNAME") == 0)
		return ifname;
	if (strcmp(name, "CNI_NETNS") == 0)
		return empty;
	return NULL;
}

static void test_env_read(void **state)
{
	struct cni_env env;

	(void)state;
	cni_env_read(&env, fake_getenv);
	assert_string_equal(env.command, "ADD");
	assert_string_equal(env.ifname, "eth0");
	/* Set but empty is the same as unset. */
	assert_null(env.netns);
	assert_null(env.container_id);
	assert_null(env.args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubernetes_args),
		cmocka_unit_test(test_empty_and_absent),
		cmocka_unit_test(test_unknown_keys_and_values_with_equals),
		cmocka_unit_test(test_bad_pairs),
		cmocka_unit_test(test_pod_uid_must_not_escape),
		cmocka_unit_test(test_container_id),
		cmocka_unit_test(test_ifname),
		cmocka_unit_test(test_env_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
