// SPDX-License-Identifier: Apache-2.0
/*
 * The file source: document shapes, errors that name the file and position,
 * reloads that keep good state, and the scan that lets a reload of a large
 * list parse only the items that changed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "file_source.h"
#include "json_scan.h"
#include "k8s_service.h"
#include "log.h"
#include "test_syncd_fixtures.h"

/* Logs go to a temporary file so tests can check what an error says. */
static FILE *log_file;

static int setup(void **state)
{
	(void)state;
	log_file = tmpfile();
	/* Info: a load says how many items it parsed. */
	socklb_log_init("test", SOCKLB_LOG_INFO, log_file, false);
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
	struct object_parser p;
	int err;

	memset(b, 0, sizeof(*b));
	assert_int_equal(object_parser_init(&p), 0);
	err = object_list_parse(&p, text, strlen(text), "input.json", b);
	object_parser_release(&p);
	return err;
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
		assert_int_equal(b.n[k], 1);
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
	assert_int_equal(b.n[K8S_ENDPOINTSLICE], 2);
	assert_int_equal(b.n[K8S_SERVICE], 0);
	object_batch_release(&b);
	assert_int_equal(parse("{\"kind\":\"ServiceList\",\"items\":null}", &b), 0);
	object_batch_release(&b);
}

static void test_single_object(void **state)
{
	struct object_parser p;
	struct object_batch b;
	char path[PATH_MAX];
	size_t len = 0;
	char *text;

	(void)state;
	fixture_path("node.json", path, sizeof(path));
	text = read_text(path, &len);
	assert_non_null(text);
	memset(&b, 0, sizeof(b));
	assert_int_equal(object_parser_init(&p), 0);
	assert_int_equal(object_list_parse(&p, text, len, path, &b), 0);
	assert_int_equal(b.n[K8S_NODE], 1);
	assert_string_equal(b.items[K8S_NODE][0]->name, "node-a");
	object_batch_release(&b);
	object_parser_release(&p);
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
	assert_int_equal(b.n[K8S_ENDPOINTSLICE], 0);
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

static int count_one(const struct k8s_object *o, void *ctx)
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

/* ------------------------------------------------------------------ the scan */

static void test_scan_cuts_items(void **state)
{
	/* Strings with escaped quotes, backslashes and brackets, nested arrays, scalars, twice the same bytes. */
	const char *const items[] = {
		"{\"s\":\"a \\\"quoted\\\" ]}{[ word\",\"n\":[[1,[2,[]]],{\"a\":[]}]}",
		"\"ends in an escaped backslash \\\\\"",
		"{\"s\":\"one \\\" quote\"}",
		"[\"]\",\"[\",{\"}\":\"{\"}]",
		"-12.5e3",
		"{}",
		"{\"s\":\"same\"}",
		"{\"s\":\"same\"}",
	};
	const size_t n = sizeof(items) / sizeof(items[0]);
	size_t offsets[sizeof(items) / sizeof(items[0])];
	struct json_scan_error err;
	struct json_list list = { 0 };
	char text[1024];
	int len;

	(void)state;
	/* A byte order mark, whitespace of every kind, and "items" inside another member first. */
	len = snprintf(text, sizeof(text),
		       "\xEF\xBB\xBF {\"kind\" : \"List\", \"metadata\":{\"items\":[1]},\n \"items\" :\t[\n  ");
	for (size_t i = 0; i < n; i++) {
		offsets[i] = (size_t)len;
		len += snprintf(text + len, sizeof(text) - (size_t)len, "%s%s", items[i], i + 1 < n ? " ,\r\n  " : "");
	}
	len += snprintf(text + len, sizeof(text) - (size_t)len, "\n ] , \"x\":\"y\" }\n\n");
	assert_int_equal(json_scan_list(text, (size_t)len, &list, &err), 0);
	assert_true(list.found);
	assert_int_equal(text[list.offset], '[');
	assert_int_equal(text[list.offset + list.len - 1], ']');
	assert_int_equal(list.n_items, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(list.items[i].offset, offsets[i]);
		assert_int_equal(list.items[i].len, strlen(items[i]));
		for (size_t j = 0; j < i; j++) {
			if (strcmp(items[i], items[j]) == 0)
				assert_true(list.items[i].hash == list.items[j].hash);
			else
				assert_true(list.items[i].hash != list.items[j].hash);
		}
	}
	json_list_release(&list);

	/* Not a list: a single object, and items that are not an array. */
	assert_int_equal(json_scan_list("{\"kind\":\"Service\"}", 18, &list, &err), 0);
	assert_false(list.found);
	assert_int_equal(json_scan_list("{\"kind\":\"List\",\"items\":null}", 28, &list, &err), 0);
	assert_false(list.found);
	/* A member name with escapes may be "items" as cJSON reads it: the document is parsed whole. */
	strcpy(text, "{\"\\u0069tems\":[],\"items\":[{}]}");
	assert_int_equal(json_scan_list(text, strlen(text), &list, &err), 0);
	assert_false(list.found);
	strcpy(text, "{\"kind\":\"List\",\"items\":[ ]}");
	assert_int_equal(json_scan_list(text, strlen(text), &list, &err), 0);
	assert_true(list.found);
	assert_int_equal(list.n_items, 0);
	json_list_release(&list);
}

struct scan_failure {
	const char *text;
	const char *what;
	const char *at; /* where the error is: the first place text has this; NULL for the end */
	long item;
};

static void test_scan_errors(void **state)
{
	static char deep[1100];
	const struct scan_failure cases[] = {
		{ "", "the document is empty", NULL, -1 },
		{ " \n ", "the document is empty", NULL, -1 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":\"b", "unterminated string", "\"b", 0 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":1},{\"b\":[2]", "the document ends early", NULL, 1 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":1},", "the document ends early", NULL, 1 },
		{ "{\"kind\":\"List\",\"items\":[", "the document ends early", NULL, 0 },
		{ "{\"kind\":\"List\",\"items\":[]", "the document ends early", NULL, -1 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":1}]} x", "something follows the end of the document", "x", -1 },
		{ "{\"kind\":\"List\",\"items\":[]}{\"kind\":\"List\"}", "something follows the end of the document",
		  "{\"kind\":\"List\"}", -1 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":[1}]}", "'}' where ']' was expected", "}]}", 0 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":1} {\"b\":2}]}", "',' or ']' was expected after items[0]",
		  "{\"b", -1 },
		{ "{\"kind\":\"List\",\"items\":[{\"a\":1},]}", "a value was expected", "]}", 1 },
		/* cJSON skips a byte order mark where it starts to parse: an item must not begin with one. */
		{ "{\"kind\":\"List\",\"items\":[\357\273\27712]}", "a value was expected", "\357", 0 },
		{ "{\"kind\" \"List\"}", "':' was expected after a member name", "\"List", -1 },
		{ "{\"kind\":\"List\",}", "a member name was expected", "}", -1 },
		{ "{\"kind\":\"List\"]", "',' or '}' was expected after a member", "]", -1 },
		{ deep, "nested more than 1000 deep", NULL, -1 },
	};
	struct json_scan_error err;
	struct json_list list = { 0 };

	(void)state;
	memset(deep, '[', 1001);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct scan_failure *c = &cases[i];
		size_t len = strlen(c->text);
		size_t at = c->at ? (size_t)(strstr(c->text, c->at) - c->text) : len;

		if (c->text == deep)
			at = 1000;
		memset(&err, 0, sizeof(err));
		assert_int_equal(json_scan_list(c->text, len, &list, &err), -EINVAL);
		if (strcmp(err.what, c->what) != 0 || err.offset != at || err.item != c->item)
			fail_msg("case %zu: \"%s\" at %zu in items[%ld], want \"%s\" at %zu in items[%ld]", i, err.what,
				 err.offset, err.item, c->what, at, c->item);
		assert_int_equal(list.n_items, 0);
	}
}

/* ------------------------------------------------- reloads of one large list */

/* A file source on one file of a fresh directory, and its store. */
struct one_file {
	char dir[32];
	char path[PATH_MAX];
	struct store *s;
	struct file_source *fs;
};

/* As tools write: a new file renamed over the old (a new inode, so the file is read again). */
static void replace_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(tmp, text);
	assert_int_equal(rename(tmp, path), 0);
}

static void one_file_open(struct one_file *f, const char *text)
{
	strcpy(f->dir, "/tmp/syncd-file-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/cluster.json", f->dir);
	replace_file(f->path, text);
	f->s = store_new();
	assert_non_null(f->s);
	assert_int_equal(file_source_new(f->path, f->s, NULL, &f->fs), 0);
	assert_int_equal(file_source_load(f->fs), 0);
	assert_true(store_complete(f->s));
}

static void one_file_close(struct one_file *f)
{
	file_source_free(f->fs);
	store_free(f->s);
	unlink(f->path);
	rmdir(f->dir);
}

static int reload(struct one_file *f, const char *text)
{
	replace_file(f->path, text);
	return file_source_load(f->fs);
}

struct lines {
	char *v[32];
	size_t n;
};

static int lines_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines sorted and joined with spaces; frees them. */
static char *lines_join(struct lines *l)
{
	char *out = calloc(1, 2048);

	qsort(l->v, l->n, sizeof(l->v[0]), lines_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, l->v[i]);
		free(l->v[i]);
	}
	return out;
}

static int add_object(const struct k8s_object *o, void *ctx)
{
	struct lines *l = ctx;
	const char *v = o->kind == K8S_SERVICE	       ? ((const struct k8s_service *)o)->proxy_name
			: o->kind == K8S_ENDPOINTSLICE ? ((const struct k8s_slice *)o)->service
						       : NULL;

	assert_true(l->n < 32);
	assert_true(asprintf(&l->v[l->n++], "%s%s%s:%s", o->ns, *o->ns ? "/" : "", o->name, v ? v : "-") > 0);
	return 0;
}

/* "ns/name:V" of every object of a kind, sorted; V a Service's label SVC() sets, or a slice's Service. */
static char *objects(struct store *s, enum k8s_kind kind)
{
	struct lines l = { 0 };

	store_lock(s);
	store_foreach(s, kind, add_object, &l);
	store_unlock(s);
	return lines_join(&l);
}

static int add_change(enum k8s_kind kind, const char *ns, const char *name, void *ctx)
{
	struct lines *l = ctx;

	assert_true(l->n < 32);
	assert_true(asprintf(&l->v[l->n++], "%s:%s/%s", k8s_kind_name(kind), ns, name) > 0);
	return 0;
}

/* The objects changed since the last call, "Kind:ns/name", sorted. */
static char *changes(struct store *s)
{
	struct lines l = { 0 };

	store_lock(s);
	store_take_changes(s, add_change, &l);
	store_unlock(s);
	return lines_join(&l);
}

#define assert_text(got, want)                    \
	do {                                      \
		char *text_ = (got);              \
		assert_string_equal(text_, want); \
		free(text_);                      \
	} while (0)

/* The last load parsed that many of the list's items. */
static void assert_parsed(const char *want)
{
	char *log = take_log();

	if (!strstr(log, want))
		fail_msg("the log says \"%s\", not \"%s\"", log, want);
	free(log);
}

/* A Service whose service-proxy-name label is v: a string its compact form keeps. */
#define SVC(name, v)                                           \
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"x\",\"labels\":{\"" K8S_LABEL_SERVICE_PROXY_NAME "\":\"" v "\"}}}"
#define LIST(items) "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[" items "]}"

static void test_reload_parses_changed_items(void **state)
{
	struct one_file f;

	(void)state;
	one_file_open(&f, LIST(SVC("a", "1") "," SVC("b", "1") "," SVC("c", "1")));
	assert_parsed("3 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:1 x/c:1");
	assert_text(changes(f.s), "Service:x/a Service:x/b Service:x/c");

	/* Changed: that item alone is parsed; the store sees that object change. */
	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("b", "2") "," SVC("c", "1"))), 0);
	assert_parsed("1 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:2 x/c:1");
	assert_text(changes(f.s), "Service:x/b");

	/* Added in the middle. */
	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("d", "1") "," SVC("b", "2") "," SVC("c", "1"))), 0);
	assert_parsed("1 of their 4 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:2 x/c:1 x/d:1");
	assert_text(changes(f.s), "Service:x/d");

	/* Removed: nothing to parse, the object leaves the store. */
	assert_int_equal(reload(&f, LIST(SVC("d", "1") "," SVC("b", "2") "," SVC("c", "1"))), 0);
	assert_parsed("0 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/b:2 x/c:1 x/d:1");
	assert_text(changes(f.s), "Service:x/a");

	/* Reordered, and whitespace between the items: nothing parsed, nothing changed. */
	assert_int_equal(reload(&f, "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[\n\t" SVC(
					    "c", "1") " ,\n\t" SVC("b", "2") ",\n\t" SVC("d", "1") "\n]}\n"),
			 0);
	assert_parsed("0 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/b:2 x/c:1 x/d:1");
	assert_text(changes(f.s), "");

	/* Whitespace inside an item: its bytes changed, so it is parsed, but the object is the same. */
	assert_int_equal(
		reload(&f, LIST(SVC("c", "1") "," SVC("b", "2") ",{ \"kind\": \"Service\", \"metadata\":"
								"{\"name\":\"d\",\"namespace\":\"x\", \"labels\":"
								"{\"" K8S_LABEL_SERVICE_PROXY_NAME "\": \"1\"}}}")),
		0);
	assert_parsed("1 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/b:2 x/c:1 x/d:1");
	assert_text(changes(f.s), "");
	one_file_close(&f);
}

/* Quotes and brackets inside strings are not structure: no item is cut there. */
static void test_reload_escapes(void **state)
{
	struct one_file f;

	(void)state;
	one_file_open(&f, LIST(SVC("a", "q\\\"]},{\\\"kind\\\":\\\"Service\\\"") "," SVC("b", "\\\\") "," SVC(
				  "c", "[[{\\\"\\\\\\\"]")));
	assert_parsed("3 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:q\"]},{\"kind\":\"Service\" x/b:\\ x/c:[[{\"\\\"]");
	assert_text(changes(f.s), "Service:x/a Service:x/b Service:x/c");

	assert_int_equal(reload(&f, LIST(SVC("a", "q\\\"]},{\\\"kind\\\":\\\"Service\\\"") "," SVC(
					    "b", "\\\\\\\\") "," SVC("c", "[[{\\\"\\\\\\\"]"))),
			 0);
	assert_parsed("1 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:q\"]},{\"kind\":\"Service\" x/b:\\\\ x/c:[[{\"\\\"]");
	assert_text(changes(f.s), "Service:x/b");
	one_file_close(&f);
}

/* A bad file changes nothing and says what and where; the next good one is read against the last good. */
static void test_reload_bad_file_keeps_state(void **state)
{
	const char *good = LIST(SVC("a", "1") "," SVC("b", "1") "," SVC("c", "1"));
	char text[512], *log;
	struct one_file f;

	(void)state;
	one_file_open(&f, good);
	free(take_log());
	free(changes(f.s));

	/* Truncated in the middle of the second item. */
	snprintf(text, sizeof(text), "%.*s", (int)(strstr(good, "\"b\"") - good), good);
	assert_int_equal(reload(&f, text), -EINVAL);
	log = take_log();
	snprintf(text, sizeof(text),
		 "cluster.json: invalid JSON at line 1, column %zu (byte %zu, items[1]): the "
		 "document ends early",
		 strlen(text) + 1, strlen(text));
	assert_non_null(strstr(log, text));
	assert_non_null(strstr(log, "keeping the previous state"));
	free(log);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:1 x/c:1");

	/* Something after the list: a second document, an edit gone wrong. */
	snprintf(text, sizeof(text), "%s\n" SVC("d", "1"), good);
	assert_int_equal(reload(&f, text), -EINVAL);
	log = take_log();
	assert_non_null(strstr(log, "cluster.json: invalid JSON at line 2, column 1 (byte"));
	assert_non_null(strstr(log, "something follows the end of the document"));
	free(log);

	/* Brackets right but not JSON inside an item: cJSON's position, with the item. */
	assert_int_equal(reload(&f, LIST(SVC("a", "1") ",{\"kind\":\"Service\",,\"metadata\":{}}," SVC("c", "1"))),
			 -EINVAL);
	log = take_log();
	assert_non_null(strstr(log, "cluster.json: invalid JSON at line 1, column"));
	assert_non_null(strstr(log, ", items[1])"));
	free(log);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:1 x/c:1");
	assert_text(changes(f.s), "");

	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("b", "1") "," SVC("c", "2"))), 0);
	assert_parsed("1 of their 3 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:1 x/c:2");
	assert_text(changes(f.s), "Service:x/c");
	one_file_close(&f);
}

static void test_reload_empty_list(void **state)
{
	struct one_file f;

	(void)state;
	one_file_open(&f, LIST(SVC("a", "1") "," SVC("b", "1")));
	free(changes(f.s));
	assert_int_equal(reload(&f, "{\"kind\":\"List\",\"items\":[ ]}"), 0);
	assert_text(objects(f.s, K8S_SERVICE), "");
	assert_text(changes(f.s), "Service:x/a Service:x/b");
	assert_int_equal(reload(&f, LIST(SVC("a", "1"))), 0);
	assert_parsed("1 of their 1 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1");
	one_file_close(&f);

	/* A first load of an empty list is a complete, empty view. */
	one_file_open(&f, "{\"kind\":\"List\",\"items\":[]}");
	assert_text(objects(f.s, K8S_SERVICE), "");
	one_file_close(&f);
}

/* An object written twice: the definition read last wins, as when the whole file was parsed each time. */
static void test_reload_object_written_twice(void **state)
{
	struct one_file f;

	(void)state;
	one_file_open(&f, LIST(SVC("a", "1") "," SVC("b", "1") "," SVC("a", "2")));
	assert_text(objects(f.s, K8S_SERVICE), "x/a:2 x/b:1");

	/* Another item changes: both definitions are read again, in order. */
	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("b", "2") "," SVC("a", "2"))), 0);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:2 x/b:2");

	/* The last goes: the first one is what is left. */
	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("b", "2"))), 0);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:2");
	free(changes(f.s));
	assert_int_equal(reload(&f, LIST(SVC("a", "1") "," SVC("b", "3"))), 0);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1 x/b:3");
	assert_text(changes(f.s), "Service:x/b");
	one_file_close(&f);
}

/* The same item bytes mean another object in a list of another kind; other documents are read whole. */
static void test_reload_document_shapes(void **state)
{
	const char *item = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\",\"labels\":{"
			   "\"" K8S_LABEL_SERVICE_PROXY_NAME "\":\"1\",\"" K8S_LABEL_SERVICE_NAME "\":\"1\"}}}";
	char text[512];
	struct one_file f;

	(void)state;
	snprintf(text, sizeof(text), "{\"kind\":\"ServiceList\",\"items\":[%s]}", item);
	one_file_open(&f, text);
	assert_text(objects(f.s, K8S_SERVICE), "x/a:1");
	snprintf(text, sizeof(text), "{\"kind\":\"EndpointSliceList\",\"items\":[%s]}", item);
	assert_int_equal(reload(&f, text), 0);
	assert_parsed("1 of their 1 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "");
	assert_text(objects(f.s, K8S_ENDPOINTSLICE), "x/a:1");

	assert_int_equal(reload(&f, SVC("b", "1")), 0);
	assert_text(objects(f.s, K8S_ENDPOINTSLICE), "");
	assert_text(objects(f.s, K8S_SERVICE), "x/b:1");
	assert_int_equal(reload(&f, LIST(SVC("b", "1") ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}")), 0);
	assert_parsed("2 of their 2 items parsed");
	assert_text(objects(f.s, K8S_SERVICE), "x/b:1");
	one_file_close(&f);
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
		cmocka_unit_test(test_scan_cuts_items),
		cmocka_unit_test(test_scan_errors),
		cmocka_unit_test(test_reload_parses_changed_items),
		cmocka_unit_test(test_reload_escapes),
		cmocka_unit_test(test_reload_bad_file_keeps_state),
		cmocka_unit_test(test_reload_empty_list),
		cmocka_unit_test(test_reload_object_written_twice),
		cmocka_unit_test(test_reload_document_shapes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
