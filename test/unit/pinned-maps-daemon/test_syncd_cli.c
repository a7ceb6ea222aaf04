// SPDX-License-Identifier: Apache-2.0
/* socklb-syncd's command line: defaults, every command, and every kind of mistake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

/* argv is NULL-terminated and starts after the program name. */
static int parse_args(struct syncd_options *o, char *err, const char *const *args)
{
	char *argv[32] = { "socklb-syncd" };
	int argc = 1;

	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	err[0] = '\0';
	return cli_parse(argc, argv, o, err, 256);
}

#define parse(o, err, ...) parse_args(o, err, (const char *const[]){ __VA_ARGS__, NULL })

static void test_defaults(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--source", "file:/etc/socklb/services.json"), 0);
	assert_int_equal(o.command, SYNCD_RUN);
	assert_int_equal(o.source_kind, SOURCE_FILE);
	assert_string_equal(o.file_path, "/etc/socklb/services.json");
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/socklb");
	assert_string_equal(o.metrics_addr, "127.0.0.1:9466");
	/* Where the plugin writes it by default (its attachFailuresFile). */
	assert_string_equal(o.attach_failures_file, "/run/socklb/attach-failures");
	assert_string_equal(o.service_proxy_name, "");
	assert_null(o.node_name);
	assert_false(o.once);
	assert_false(o.verbose);
	assert_false(o.terminate_tcp);
	assert_int_equal(o.terminate_grace_ms, 0);
	/* the termination method is probed unless told */
	assert_true(o.termination_auto);
}

static void test_every_flag(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "--source", "kubernetes", "--kubeconfig", "/k.json", "--context", "kind-kind",
			       "--api-server=https://10.0.0.1:6443", "--node-name", "node-a", "--service-proxy-name",
			       "socklb", "--bpffs-root", "/sys/fs/bpf/x", "--once", "--metrics-addr", "", "-v",
			       "--max-services", "1000", "--max-backends=5000", "--attach-failures-file",
			       "/run/socklb/plugin/attach-failures"),
			 0);
	assert_string_equal(o.attach_failures_file, "/run/socklb/plugin/attach-failures");
	assert_int_equal(o.source_kind, SOURCE_KUBERNETES);
	assert_string_equal(o.kubeconfig, "/k.json");
	assert_string_equal(o.context, "kind-kind");
	assert_string_equal(o.api_server, "https://10.0.0.1:6443");
	assert_string_equal(o.node_name, "node-a");
	assert_string_equal(o.service_proxy_name, "socklb");
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/x");
	assert_string_equal(o.metrics_addr, "");
	assert_true(o.once);
	assert_true(o.verbose);
	assert_int_equal(o.max_services, 1000);
	assert_int_equal(o.max_backends, 5000);
	/* the termination flags are the running daemon's (not --once's) */
	assert_int_equal(parse(&o, err, "--source", "kubernetes", "--terminate-tcp", "--terminate-grace", "5s"), 0);
	assert_true(o.terminate_tcp);
	assert_int_equal(o.terminate_grace_ms, 5000);
	assert_int_equal(parse(&o, err, "--source", "kubernetes", "--termination-method", "pods+diag"), 0);
	assert_false(o.termination_auto);
	assert_int_equal(o.termination_method, SOCKLB_TERM_PODS_DIAG);
	assert_int_equal(parse(&o, err, "--source", "kubernetes", "--termination-method=off"), 0);
	assert_false(o.termination_auto);
	assert_int_equal(o.termination_method, SOCKLB_TERM_OFF);
	assert_int_equal(parse(&o, err, "--source", "kubernetes", "--termination-method", "auto"), 0);
	assert_true(o.termination_auto);
}

static void test_dump(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "dump", "--json", "--bpffs-root", "/sys/fs/bpf/y"), 0);
	assert_int_equal(o.command, SYNCD_DUMP);
	assert_true(o.json);
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/y");
	assert_int_equal(parse(&o, err, "dump"), 0);
	assert_false(o.json);
}

static void test_status(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "status"), 0);
	assert_int_equal(o.command, SYNCD_STATUS);
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/socklb");
	assert_false(o.json);
	assert_int_equal(parse(&o, err, "status", "--json", "-v", "--bpffs-root=/sys/fs/bpf/z"), 0);
	assert_int_equal(o.command, SYNCD_STATUS);
	assert_true(o.json);
	assert_true(o.verbose);
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/z");
	/* a command is only a command in first place */
	assert_int_equal(parse(&o, err, "--source", "file:x", "status"), -EINVAL);
	assert_string_equal(err, "unexpected argument \"status\"");
}

static void test_trace(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "trace"), 0);
	assert_int_equal(o.command, SYNCD_TRACE);
	assert_int_equal(o.trace_count, 0);
	assert_null(o.trace_filter.pod);
	assert_false(o.trace_filter.has_vip);
	assert_int_equal(o.trace_filter.verdicts, 0);
	assert_int_equal(parse(&o, err, "trace", "--json", "--pod", "c0ffee", "--service", "10.96.0.10:80", "--verdict",
			       "translated,affinity-hit", "--count=5", "--bpffs-root", "/sys/fs/bpf/z", "-v"),
			 0);
	assert_true(o.json);
	assert_true(o.verbose);
	assert_string_equal(o.trace_filter.pod, "c0ffee");
	assert_true(o.trace_filter.has_vip);
	assert_int_equal(o.trace_filter.port, 80);
	assert_int_equal(o.trace_filter.verdicts, (1U << SOCKLB_VERDICT_TRANSLATED) | (1U << SOCKLB_VERDICT_AFFINITY));
	assert_int_equal(o.trace_count, 5);
	assert_string_equal(o.bpffs_root, "/sys/fs/bpf/z");
}

struct bad_case {
	const char *args[6];
	const char *message;
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ { "--source", "file:x", "--bogus" }, "unknown flag --bogus" },
		{ { "--source" }, "--source needs a value" },
		{ { "--source", "file:x", "--node-name" }, "--node-name needs a value" },
		{ { "--once" }, "--source is required" },
		{ { "--source", "etcd" }, "--source \"etcd\": expected file:PATH or kubernetes" },
		{ { "--source", "file:" }, "expected file:PATH or kubernetes" },
		{ { "--source", "file:x", "--kubeconfig", "k" }, "--kubeconfig only applies to --source kubernetes" },
		{ { "--source", "file:x", "--context", "c" }, "--context only applies to --source kubernetes" },
		{ { "--source", "kubernetes", "--context", "c" }, "--context needs --kubeconfig" },
		{ { "--source", "kubernetes", "--kubeconfig", "k", "--context", "" }, "--context must not be empty" },
		{ { "--source", "file:x", "--metrics-addr", "localhost" },
		  "--metrics-addr \"localhost\": expected HOST:PORT" },
		{ { "--source", "file:x", "--metrics-addr", "1.2.3.4:99999" }, "expected HOST:PORT" },
		{ { "--source", "file:x", "--json" }, "--json does not apply to the daemon" },
		{ { "--source", "file:x", "--once=yes" }, "--once takes no value" },
		{ { "--source", "file:x", "extra" }, "unexpected argument \"extra\"" },
		{ { "dump", "--source", "kubernetes" }, "--source does not apply to dump" },
		{ { "dump", "--bpffs-root", "" }, "--bpffs-root must not be empty" },
		{ { "--source", "kubernetes", "--node-name", "" }, "--node-name must not be empty" },
		{ { "--source", "file:x", "--node-name", "Node_1" }, "--node-name \"Node_1\": not a valid Node name" },
		{ { "--source", "kubernetes", "--node-name", "a,b" }, "--node-name \"a,b\": not a valid Node name" },
		{ { "--source", "file:x", "--service-proxy-name", "bad name" },
		  "--service-proxy-name \"bad name\": not a valid label value" },
		{ { "--source", "file:x", "--bpffs-root", "relative/dir" },
		  "--bpffs-root \"relative/dir\": must be an absolute path" },
		{ { "dump", "--bpffs-root", "x" }, "--bpffs-root \"x\": must be an absolute path" },
		{ { "--source", "file:x", "--attach-failures-file", "failures" },
		  "--attach-failures-file \"failures\": must be an absolute path" },
		{ { "dump", "--attach-failures-file", "/x" }, "--attach-failures-file does not apply to dump" },
		{ { "--source", "kubernetes", "--max-services", "0" }, "--max-services \"0\": expected a count" },
		{ { "--source", "kubernetes", "--max-backends", "-5" }, "--max-backends \"-5\": expected a count" },
		{ { "--source", "kubernetes", "--max-backends", "1k" }, "--max-backends \"1k\": expected a count" },
		{ { "--source", "kubernetes", "--terminate-grace", "5" },
		  "--terminate-grace \"5\": expected a duration" },
		{ { "--source", "kubernetes", "--terminate-grace", "-1s" }, "expected a duration such as 5s" },
		{ { "--source", "kubernetes", "--terminate-grace" }, "--terminate-grace needs a value" },
		{ { "--source", "kubernetes", "--terminate-tcp=yes" }, "--terminate-tcp takes no value" },
		{ { "--source", "file:x", "--once", "--terminate-tcp" },
		  "--terminate-tcp applies to the running daemon" },
		{ { "--source", "file:x", "--once", "--terminate-grace", "1s" },
		  "--terminate-grace applies to the running daemon, not to --once" },
		{ { "dump", "--terminate-tcp" }, "--terminate-tcp does not apply to dump" },
		{ { "status", "--source", "kubernetes" }, "--source does not apply to status" },
		{ { "status", "--once" }, "--once does not apply to status" },
		{ { "status", "--bpffs-root", "rel" }, "--bpffs-root \"rel\": must be an absolute path" },
		{ { "status", "extra" }, "unexpected argument \"extra\"" },
		{ { "dump", "--pod", "x" }, "--pod does not apply to dump" },
		{ { "trace", "--source", "kubernetes" }, "--source does not apply to trace" },
		{ { "--source", "file:x", "--verdict", "translated" }, "--verdict does not apply to the daemon" },
		{ { "trace", "--verdict", "fast" }, "--verdict \"fast\": expected translated, refused-no-endpoints" },
		{ { "trace", "--verdict", "," }, "--verdict must name at least one verdict" },
		{ { "trace", "--service", "10.96.0.10:0" }, "--service \"10.96.0.10:0\": expected a VIP" },
		{ { "trace", "--service", "web.default" }, "--service \"web.default\": expected a VIP" },
		{ { "trace", "--pod", "" }, "--pod must not be empty" },
		{ { "trace", "--count", "0" }, "--count \"0\": expected a count" },
		{ { "--source", "kubernetes", "--termination-method", "bpf" },
		  "--termination-method \"bpf\": expected auto, off, records+bpf, records+diag, tasks+bpf, tasks+diag, "
		  "pods+bpf, pods+diag" },
		{ { "--source", "file:x", "--once", "--termination-method", "off" },
		  "--termination-method applies to the running daemon, not to --once" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[8] = { "socklb-syncd" };
		struct syncd_options o;
		char err[256] = "";
		int argc = 1;

		for (size_t k = 0; k < 6 && cases[i].args[k]; k++)
			argv[argc++] = (char *)cases[i].args[k];
		assert_int_equal(cli_parse(argc, argv, &o, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].message))
			fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].message);
	}
}

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		unsigned int ms;
	} good[] = {
		{ "0", 0 }, { "0s", 0 }, { "500ms", 500 }, { "5s", 5000 }, { "2m", 120000 }, { "1440m", 86400000 }
	};
	static const char *const bad[] = { "",	  "5",	 "s",	 "5 s",	  "5h",		"1.5s",
					   "-5s", "+5s", "5sec", "1441m", "86400001ms", "99999999999999999999s" };
	unsigned int ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		if (cli_duration_parse(good[i].text, &ms) || ms != good[i].ms)
			fail_msg("\"%s\": got %u, want %u", good[i].text, ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cli_duration_parse(bad[i], &ms) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
}

static void test_help(void **state)
{
	struct syncd_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, "-h"), 0);
	assert_true(o.help);
	assert_int_equal(parse(&o, err, "dump", "--help"), 0);
	assert_true(o.help);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_every_flag), cmocka_unit_test(test_dump),
		cmocka_unit_test(test_status),	 cmocka_unit_test(test_trace),	    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_duration), cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
