// SPDX-License-Identifier: Apache-2.0
/* The file source: document shapes, errors that name the file and position, reloads that keep good state. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "file_source.h"
#include "k8s_object.h"
#include "log.h"
#include "test_syncd_fixtures.h"

/* Logs go to a temporary file so tests can check what an error says. */
static FILE *log_file;

static int setup(void **state)
{
	(void)state;
	log_file = tmpfile();
	socklb_log_init("test", SOCKLB_LOG_WARN, log_file, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fclose(log_file);
	return 0;
}

/* Everything logged since the last call. */
static char *take_log(void)
{
	long end = ftell(log_file);
	char *text = calloc(1, (size_t)end + 1);

	rewind(log_file);
	assert_int_equal(fread(text, 1, (size_t)end, log_file), (size_t)end);
	rewind(log_file);
	assert_int_equal(ftruncate(fileno(log_file), 0), 0);
	return text;
}

static int parse(const char *text, struct object_batch *b)
{
	assert_int_equal(object_batch_init(b), 0);
	return object_list_parse(text, strlen(text), "input.json", b);
}

static void test_list_of_kinds(void **state)
{
	struct object_batch b;

	(void)state;
	assert_int_equal(parse("{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"}},"
			       "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}},"
			       "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/"
			       "v1\",\"metadata\":{\"name\":\"s\"}},"
			       "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"}},{\"kind\":\"Node\",\"metadata\":"
			       "{\"name\":\"x\"}}]}",
			       &b),
			 0);
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		assert_int_equal(cJSON_GetArraySize(b.items[k]), 1);
	object_batch_release(&b);
}

/* Typed lists straight from the API server carry no kind on their items. */
static void test_typed_list(void **state)
{
	struct object_batch b;

	(void)state;
	assert_int_equal(parse("{\"kind\":\"EndpointSliceList\",\"apiVersion\":\"discovery.k8s.io/v1\",\"items\":["
			       "{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}",
			       &b),
			 0);
	assert_int_equal(cJSON_GetArraySize(b.items[K8S_ENDPOINTSLICE]), 2);
	assert_int_equal(cJSON_GetArraySize(b.items[K8S_SERVICE]), 0);
	object_batch_release(&b);
	assert_int_equal(parse("{\"kind\":\"ServiceList\",\"items\":null}", &b), 0);
	object_batch_release(&b);
}

static void test_single_object(void **state)
{
	struct object_batch b;
	char path[PATH_MAX];
	size_t len = 0;
	char *text;

	(void)state;
	fixture_path("node.json", path, sizeof(path));
	text = read_text(path, &len);
	assert_non_null(text);
	assert_int_equal(object_batch_init(&b), 0);
	assert_int_equal(object_list_parse(text, len, path, &b), 0);
	assert_int_equal(cJSON_GetArraySize(b.items[K8S_NODE]), 1);
	assert_string_equal(k8s_name(cJSON_GetArrayItem(b.items[K8S_NODE], 0)), "node-a");
	object_batch_release(&b);
	free(text);
}

static void test_bad_json_names_position(void **state)
{
	struct object_batch b;
	char *log;

	(void)state;
	assert_int_equal(parse("{\"kind\":\"List\",\n \"items\": [\n   {\"kind\": \"Service\",, }\n]}", &b), -EINVAL);
	object_batch_release(&b);
	log = take_log();
	assert_non_null(strstr(log, "input.json: invalid JSON at line 3, column"));
	free(log);
}

static void test_not_kubernetes(void **state)
{
	struct object_batch b;
	char *log;

	(void)state;
	assert_int_equal(parse("[1, 2]", &b), -EINVAL);
	object_batch_release(&b);
	assert_int_equal(parse("{\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"a\"}}]}", &b), -EINVAL);
	object_batch_release(&b);
	assert_int_equal(parse("{\"kind\":\"List\",\"items\":{}}", &b), -EINVAL);
	object_batch_release(&b);
	log = take_log();
	assert_non_null(strstr(log, "input.json: not a Kubernetes object or list"));
	assert_non_null(strstr(log, "input.json: items[0] has no kind"));
	assert_non_null(strstr(log, "input.json: items is not a list"));
	free(log);
}

static void test_old_endpointslice_version_refused(void **state)
{
	struct object_batch b;
	char *log;

	(void)state;
	assert_int_equal(parse("{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1beta1\","
			       "\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"}}",
			       &b),
			 0);
	assert_int_equal(cJSON_GetArraySize(b.items[K8S_ENDPOINTSLICE]), 0);
	object_batch_release(&b);
	log = take_log();
	assert_non_null(strstr(log, "EndpointSlice n/s: apiVersion discovery.k8s.io/v1beta1 is not supported"));
	free(log);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int count_one(const cJSON *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static int count_kind(struct store *s, enum k8s_kind kind)
{
	int n = 0;

	store_lock(s);
	store_foreach(s, kind, count_one, &n);
	store_unlock(s);
	return n;
}

static int no_change(enum k8s_kind kind, const char *ns, const char *name, void *ctx)
{
	(void)kind;
	(void)ns;
	(void)ctx;
	/* Only the first take (the initial load) and a changed "two" are allowed. */
	return ctx ? 0 : strcmp(name, "one") == 0 ? -1 : 0;
}

/* A directory of *.json files loads as one; a bad file anywhere keeps everything as it was. */
static void test_directory_and_bad_reload(void **state)
{
	char dir[] = "/tmp/syncd-file-XXXXXX", a[PATH_MAX], b[PATH_MAX], hidden[PATH_MAX];
	struct file_source *fs;
	struct store *s = store_new();
	char *log;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.json", dir);
	snprintf(b, sizeof(b), "%s/b.json", dir);
	snprintf(hidden, sizeof(hidden), "%s/.b.json.tmp", dir);
	write_file(a, "{\"kind\":\"Service\",\"metadata\":{\"name\":\"one\",\"namespace\":\"x\"}}");
	write_file(b, "{\"kind\":\"ServiceList\",\"items\":[{\"metadata\":{\"name\":\"two\",\"namespace\":\"x\"}}]}");
	write_file(hidden, "not json");
	assert_int_equal(file_source_new(dir, s, NULL, &fs), 0);
	assert_int_equal(file_source_load(fs), 0);
	assert_true(store_complete(s));
	assert_int_equal(count_kind(s, K8S_SERVICE), 2);

	/* Unchanged content: nothing replaced, no event. */
	store_drain_events(s);
	assert_int_equal(file_source_load(fs), 0);

	write_file(b, "{\"kind\":\"ServiceList\",\"items\":[{\"metadata\":{\"name\":\"two\"");
	assert_int_equal(file_source_load(fs), -EINVAL);
	assert_int_equal(count_kind(s, K8S_SERVICE), 2);
	log = take_log();
	assert_non_null(strstr(log, "b.json: invalid JSON at line 1"));
	assert_non_null(strstr(log, "keeping the previous state"));
	free(log);

	/* "two" moves to a.json: it never leaves the store, and "one" does not change. */
	store_lock(s);
	store_take_changes(s, no_change, NULL);
	store_unlock(s);
	write_file(b, "{\"kind\":\"List\",\"items\":[]}");
	write_file(a, "{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"one\","
		      "\"namespace\":\"x\"}},"
		      "{\"kind\":\"Service\",\"metadata\":{\"name\":\"two\",\"namespace\":\"x\"}}]}");
	assert_int_equal(file_source_load(fs), 0);
	assert_int_equal(count_kind(s, K8S_SERVICE), 2);
	store_lock(s);
	assert_int_equal(store_take_changes(s, no_change, NULL), 0);
	store_unlock(s);

	unlink(b);
	write_file(a, "{\"kind\":\"Service\",\"metadata\":{\"name\":\"one\",\"namespace\":\"x\"}}");
	assert_int_equal(file_source_load(fs), 0);
	assert_int_equal(count_kind(s, K8S_SERVICE), 1);

	file_source_free(fs);
	unlink(a);
	unlink(hidden);
	rmdir(dir);
	store_free(s);
}

static void test_missing_file(void **state)
{
	struct file_source *fs;
	struct store *s = store_new();
	char *log;

	(void)state;
	assert_int_equal(file_source_new("/nonexistent/socklb/services.json", s, NULL, &fs), 0);
	assert_int_equal(file_source_load(fs), -ENOENT);
	assert_false(store_complete(s));
	log = take_log();
	assert_non_null(strstr(log, "cannot read /nonexistent/socklb/services.json: No such file or directory"));
	free(log);
	file_source_free(fs);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_of_kinds),
		cmocka_unit_test(test_typed_list),
		cmocka_unit_test(test_single_object),
		cmocka_unit_test(test_bad_json_names_position),
		cmocka_unit_test(test_not_kubernetes),
		cmocka_unit_test(test_old_endpointslice_version_refused),
		cmocka_unit_test(test_directory_and_bad_reload),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
