// SPDX-License-Identifier: Apache-2.0
/* The CNI installer: text edits, finding the primary config, files on disk, the plugin binary. No root needed. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cni_install.h"
#include "log.h"
#include "test_cni_install_helpers.h"

#define DEFAULT_ENTRY \
	"{\"type\":\"socklb\",\"capabilities\":{\"cgroupPath\":true,\"io.kubernetes.cri.pod-annotations\":true}}"

struct node {
	char *root;
	char bin[PATH_MAX];
	char conf[PATH_MAX];
	struct cni_install_opts opts;
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
	snprintf(n->bin, sizeof(n->bin), "%s/bin", n->root);
	snprintf(n->conf, sizeof(n->conf), "%s/net.d", n->root);
	cni_install_opts_init(&n->opts);
	n->opts.bin_dir = n->bin;
	n->opts.conf_dir = n->conf;
	*state = n;
	return 0;
}

static int node_teardown(void **state)
{
	struct node *n = *state;

	remove_tree(n->root);
	free(n->root);
	free(n);
	return 0;
}

/* The plugins array of a conflist text, parsed. */
static cJSON *plugins_of(const char *text, cJSON **doc)
{
	*doc = cJSON_Parse(text);
	assert_non_null(*doc);
	return cJSON_GetObjectItemCaseSensitive(*doc, "plugins");
}

static const char *type_at(const cJSON *plugins, int i)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(plugins, i), "type")->valuestring;
}

/* The entry ----------------------------------------------------------------- */

static void test_entry_default(void **state)
{
	struct socklb_err err;
	char *entry;

	(void)state;
	assert_int_equal(cni_entry_build(NULL, &entry, &err), 0);
	assert_string_equal(entry, DEFAULT_ENTRY);
	free(entry);
}

static void test_entry_extra_keys(void **state)
{
	struct socklb_err err;
	char *entry;

	(void)state;
	assert_int_equal(cni_entry_build("{\"namespaces\": [\"*\"], \"logLevel\": \"debug\"}", &entry, &err), 0);
	assert_string_equal(entry,
			    "{\"type\":\"socklb\",\"namespaces\":[\"*\"],\"logLevel\":\"debug\",\"capabilities\":{"
			    "\"cgroupPath\":true,\"io.kubernetes.cri.pod-annotations\":true}}");
	free(entry);
}

static void test_entry_bad_config(void **state)
{
	static const struct {
		const char *json, *complaint;
	} cases[] = {
		{ "{\"namespaces\": [\"*\"", "not valid JSON" },
		{ "[\"namespaces\"]", "must be a JSON object" },
		{ "{\"type\": \"other\"}", "\"type\" is set by the installer" },
		{ "{\"capabilities\": {}}", "\"capabilities\" is set by the installer" },
		{ "{\"cniVersion\": \"1.0.0\"}", "\"cniVersion\" is set by" },
		{ "{\"logLevel\": \"info\", \"logLevel\": \"debug\"}", "\"logLevel\" appears more than once" },
	};
	struct socklb_err err;
	char *entry;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cni_entry_build(cases[i].json, &entry, &err), -EINVAL);
		assert_null(entry);
		assert_non_null(strstr(err.msg, cases[i].complaint));
	}
}

/* Text edits ------------------------------------------------------------------ */

/* fixture + entry == expected/, byte for byte; and back. */
static void check_put_and_drop(const char *name, const char *expected_name)
{
	char *orig = fixture(name), *expected = fixture(expected_name), *out, *back;
	enum cni_conf_change change;
	struct socklb_err err;

	assert_non_null(orig);
	assert_non_null(expected);
	assert_int_equal(cni_conflist_put(name, orig, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	assert_int_equal(change, CNI_CONF_INSERTED);
	assert_string_equal(out, expected);
	assert_int_equal(cni_conflist_drop(name, out, &back, &err), 0);
	assert_string_equal(back, orig);
	free(back);
	free(out);
	free(expected);
	free(orig);
}

static void test_put_flannel(void **state)
{
	char *out, *orig = fixture("flannel.conflist");
	enum cni_conf_change change;
	struct socklb_err err;
	cJSON *doc, *orig_doc, *plugins;

	(void)state;
	check_put_and_drop("flannel.conflist", "expected/flannel.conflist");
	assert_int_equal(cni_conflist_put("f", orig, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	plugins = plugins_of(out, &doc);
	assert_int_equal(cJSON_GetArraySize(plugins), 3);
	assert_string_equal(type_at(plugins, 0), "flannel");
	assert_string_equal(type_at(plugins, 1), "portmap");
	assert_string_equal(type_at(plugins, 2), "socklb");
	/* Everything but the new entry is what flannel wrote, cniVersion included. */
	cJSON_DeleteItemFromArray(plugins, 2);
	orig_doc = cJSON_Parse(orig);
	assert_true(cJSON_Compare(doc, orig_doc, true));
	cJSON_Delete(orig_doc);
	cJSON_Delete(doc);
	free(out);
	free(orig);
}

static void test_put_calico(void **state)
{
	char *out, *orig = fixture("calico.conflist");
	enum cni_conf_change change;
	struct socklb_err err;
	cJSON *doc, *plugins;

	(void)state;
	check_put_and_drop("calico.conflist", "expected/calico.conflist");
	assert_int_equal(cni_conflist_put("c", orig, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	plugins = plugins_of(out, &doc);
	assert_int_equal(cJSON_GetArraySize(plugins), 4);
	assert_string_equal(type_at(plugins, 2), "bandwidth");
	assert_string_equal(type_at(plugins, 3), "socklb");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "cniVersion")->valuestring, "0.3.1");
	cJSON_Delete(doc);
	free(out);
	free(orig);
}

static void test_put_compact(void **state)
{
	(void)state;
	check_put_and_drop("compact.conflist", "expected/compact.conflist");
}

static void test_put_twice_is_unchanged(void **state)
{
	char *once = fixture("expected/calico.conflist"), *out;
	enum cni_conf_change change;
	struct socklb_err err;

	(void)state;
	assert_int_equal(cni_conflist_put("c", once, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	assert_null(out);
	assert_int_equal(change, CNI_CONF_UNCHANGED);
	free(once);
}

static void test_put_existing_entry(void **state)
{
	const char *other = "{\"type\":\"socklb\",\"namespaces\":[\"*\"],\"capabilities\":{\"cgroupPath\":true,"
			    "\"io.kubernetes.cri.pod-annotations\":true}}";
	char *text = fixture("expected/flannel.conflist"), *out, *again;
	enum cni_conf_change change;
	struct socklb_err err;
	cJSON *doc, *plugins;

	(void)state;
	/* The watcher keeps whatever entry is there. */
	assert_int_equal(cni_conflist_put("f", text, other, CNI_ENTRY_KEEP, &out, &change, &err), 0);
	assert_null(out);
	/* install-cni makes it its own, in place. */
	assert_int_equal(cni_conflist_put("f", text, other, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	assert_int_equal(change, CNI_CONF_UPDATED);
	plugins = plugins_of(out, &doc);
	assert_int_equal(cJSON_GetArraySize(plugins), 3);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(plugins, 2), "namespaces"));
	cJSON_Delete(doc);
	/* The same entry with its keys in another order is the same entry. */
	assert_int_equal(cni_conflist_put("f", out,
					  "{\"capabilities\":{\"io.kubernetes.cri.pod-annotations\":true,"
					  "\"cgroupPath\":true},\"namespaces\":[\"*\"],\"type\":\"socklb\"}",
					  CNI_ENTRY_REPLACE, &again, &change, &err),
			 0);
	assert_null(again);
	free(out);
	free(text);
}

static void test_put_entry_in_the_middle_stays(void **state)
{
	const char *text =
		"{\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"},{\"type\":\"socklb\"},{\"type\":\"portmap\"}]}";
	char *out;
	enum cni_conf_change change;
	struct socklb_err err;

	(void)state;
	assert_int_equal(cni_conflist_put("m", text, "{\"type\":\"socklb\"}", CNI_ENTRY_REPLACE, &out, &change, &err),
			 0);
	assert_null(out);
	assert_int_equal(cni_conflist_drop("m", text, &out, &err), 0);
	assert_string_equal(out, "{\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"},{\"type\":\"portmap\"}]}");
	free(out);
}

static void test_drop_first_and_duplicates(void **state)
{
	const char *text =
		"{\"name\":\"n\",\"plugins\":[ {\"type\":\"socklb\"}, {\"type\":\"bridge\"}, {\"type\":\"socklb\"} ]}";
	enum cni_conf_change change;
	struct socklb_err err;
	char *out;

	(void)state;
	assert_int_equal(cni_conflist_put("d", text, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2 socklb entries"));
	assert_int_equal(cni_conflist_drop("d", text, &out, &err), 0);
	assert_string_equal(out, "{\"name\":\"n\",\"plugins\":[ {\"type\":\"bridge\"} ]}");
	free(out);
	assert_int_equal(cni_conflist_drop("d", "{\"name\":\"n\",\"plugins\":[{\"type\":\"bridge\"}]}", &out, &err), 0);
	assert_null(out);
	assert_int_equal(cni_conflist_drop("d", "{\"name\":\"n\",\"plugins\":[{\"type\":\"socklb\"}]}", &out, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "its only plugin"));
}

static void test_strings_and_escapes(void **state)
{
	/* Brackets, quotes and a "plugins" key inside strings and nested objects must not confuse the splice. */
	const char *text = "{\"name\":\"we]ird\\\"[\",\"x\":{\"plugins\":[1]},\"plugins\":[{\"type\":\"bridge\","
			   "\"s\":\"}]\\\\\"}],\"z\":[\"plugins\"]}";
	enum cni_conf_change change;
	struct socklb_err err;
	char *out, *back;
	cJSON *doc, *plugins;

	(void)state;
	assert_int_equal(cni_conflist_put("e", text, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	plugins = plugins_of(out, &doc);
	assert_int_equal(cJSON_GetArraySize(plugins), 2);
	assert_string_equal(type_at(plugins, 1), "socklb");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(plugins, 0), "s")->valuestring, "}]\\");
	cJSON_Delete(doc);
	assert_int_equal(cni_conflist_drop("e", out, &back, &err), 0);
	assert_string_equal(back, text);
	free(back);
	free(out);
}

static void test_crlf_and_bom(void **state)
{
	const char *text =
		"\xEF\xBB\xBF{\r\n  \"name\": \"w\",\r\n  \"plugins\": [\r\n    {\"type\": \"bridge\"}\r\n  ]\r\n}\r\n";
	enum cni_conf_change change;
	struct socklb_err err;
	char *out, *back;

	(void)state;
	assert_int_equal(cni_conflist_put("w", text, "{\"type\":\"socklb\"}", CNI_ENTRY_REPLACE, &out, &change, &err),
			 0);
	assert_string_equal(out,
			    "\xEF\xBB\xBF{\r\n  \"name\": \"w\",\r\n  \"plugins\": [\r\n    {\"type\": \"bridge\"},\r\n"
			    "    {\"type\":\"socklb\"}\r\n  ]\r\n}\r\n");
	assert_int_equal(cni_conflist_drop("w", out, &back, &err), 0);
	assert_string_equal(back, text);
	free(back);
	free(out);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *name, *complaint;
	} cases[] = {
		{ "malformed-json.conflist", "not valid JSON (at line 5" },
		{ "malformed-no-plugins.conflist", "no \"plugins\" list" },
		{ "malformed-plugins-not-list.conflist", "\"plugins\" is not a list" },
		{ "malformed-plugin-not-object.conflist", "plugins[1] is not a JSON object" },
		{ "malformed-plugin-no-type.conflist", "plugins[1] has no \"type\" string" },
	};
	enum cni_conf_change change;
	struct socklb_err err;
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = fixture(cases[i].name);

		assert_non_null(text);
		assert_int_equal(
			cni_conflist_put(cases[i].name, text, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err),
			-EINVAL);
		assert_null(out);
		assert_non_null(strstr(err.msg, cases[i].name));
		assert_non_null(strstr(err.msg, cases[i].complaint));
		free(text);
	}
	assert_int_equal(cni_conflist_put("x", "[]", DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "x: not a JSON object"));
	assert_int_equal(cni_conflist_put("x", "{\"name\":\"n\",\"plugins\":[]}", DEFAULT_ENTRY, CNI_ENTRY_REPLACE,
					  &out, &change, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "\"plugins\" is empty"));
	assert_int_equal(cni_conflist_put("x", "{\"name\":\"n\",\"plugins\":[{\"type\":\"a\"}],\"plugins\":[]}",
					  DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "more than once"));
	assert_int_equal(cni_conflist_put("x", "{\"plugins\":[{\"type\":\"a\"}]}", DEFAULT_ENTRY, CNI_ENTRY_REPLACE,
					  &out, &change, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "no \"name\""));
}

static void test_wrap(void **state)
{
	char *conf = fixture("bridge.conf"), *wrapped, *out, *expected = fixture("expected/bridge.conflist");
	enum cni_conf_change change;
	struct socklb_err err;
	cJSON *doc, *plugins, *orig;

	(void)state;
	assert_int_equal(cni_conf_wrap("bridge.conf", conf, &wrapped, &err), 0);
	plugins = plugins_of(wrapped, &doc);
	/* libcni's ConfListFromConf: name and cniVersion copied up, the plugin as it was. */
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "name")->valuestring, "mynet");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "cniVersion")->valuestring, "1.0.0");
	assert_int_equal(cJSON_GetArraySize(plugins), 1);
	orig = cJSON_Parse(conf);
	assert_true(cJSON_Compare(cJSON_GetArrayItem(plugins, 0), orig, true));
	cJSON_Delete(orig);
	cJSON_Delete(doc);
	assert_int_equal(cni_conflist_put("b", wrapped, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &out, &change, &err), 0);
	assert_string_equal(out, expected);
	free(out);
	free(wrapped);
	free(expected);
	free(conf);

	conf = fixture("malformed-conf-no-type.conf");
	assert_int_equal(cni_conf_wrap("malformed-conf-no-type.conf", conf, &wrapped, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "malformed-conf-no-type.conf: no \"type\" string"));
	free(conf);
	assert_int_equal(cni_conf_wrap("n.conf", "{\"type\":\"bridge\"}", &wrapped, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no \"name\""));
	/* No cniVersion stays no cniVersion. */
	assert_int_equal(cni_conf_wrap("v.conf", "{\"type\":\"bridge\",\"name\":\"v\"}", &wrapped, &err), 0);
	assert_string_equal(
		wrapped, "{\n\t\"name\": \"v\",\n\t\"plugins\": [\n\t\t{\"type\":\"bridge\",\"name\":\"v\"}\n\t]\n}\n");
	free(wrapped);
}

/* The conf dir ---------------------------------------------------------------- */

static void touch(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(put_file(path, "{}", 0644), 0);
}

static void assert_primary(const char *dir, const char *want)
{
	char *path, expect[PATH_MAX];

	assert_int_equal(cni_conf_find_primary(dir, &path), 0);
	snprintf(expect, sizeof(expect), "%s/%s", dir, want);
	assert_string_equal(path, expect);
	free(path);
}

static void test_find_primary_order(void **state)
{
	struct node *n = *state;
	char path[PATH_MAX], *found;

	assert_int_equal(cni_conf_find_primary(n->conf, &found), -ENOENT);
	touch(n->conf, "README");
	touch(n->conf, "99-loopback.conf");
	assert_primary(n->conf, "99-loopback.conf");
	touch(n->conf, "20-b.conflist");
	assert_primary(n->conf, "20-b.conflist");
	touch(n->conf, "10-a.json");
	assert_primary(n->conf, "10-a.json");
	/* Only the last extension counts, like Go's filepath.Ext. */
	touch(n->conf, "05-old.conflist.bak");
	touch(n->conf, "05-tmp.conf.dpkg-old");
	assert_primary(n->conf, "10-a.json");
	/* A directory is never a config. */
	snprintf(path, sizeof(path), "%s/00-dir.conflist", n->conf);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_primary(n->conf, "10-a.json");
	/* Byte order, not the locale's: upper case before lower case, "." before digits. */
	touch(n->conf, "a.conflist");
	touch(n->conf, "B.conflist");
	assert_primary(n->conf, "10-a.json");
	touch(n->conf, "0.conf");
	assert_primary(n->conf, "0.conf");
	touch(n->conf, ".0.conflist");
	assert_primary(n->conf, ".0.conflist");
	assert_true(cni_conf_is_config_name("x.conflist"));
	assert_false(cni_conf_is_config_name(".socklb-abcdef.tmp"));
	snprintf(path, sizeof(path), "%s/missing", n->root);
	assert_int_equal(cni_conf_find_primary(path, &found), -ENOENT);
}

static void stat_file(const char *dir, const char *name, struct stat *st)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, st), 0);
}

static void test_ensure_keeps_mode_and_does_not_rewrite(void **state)
{
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	struct stat before, after;
	char *path, *text, *expected = fixture("expected/flannel.conflist");

	assert_int_equal(put_fixture(n->conf, "flannel.conflist", "10-flannel.conflist", 0640), 0);
	assert_int_equal(put_fixture(n->conf, "calico.conflist", "20-calico.conflist", 0644), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	assert_int_equal(change, CNI_CONF_INSERTED);
	assert_non_null(strstr(path, "/10-flannel.conflist"));
	free(path);
	text = dir_file(n->conf, "10-flannel.conflist");
	assert_string_equal(text, expected);
	free(text);
	stat_file(n->conf, "10-flannel.conflist", &before);
	assert_int_equal(before.st_mode & 07777, 0640);
	/* Only the primary is touched. */
	text = dir_file(n->conf, "20-calico.conflist");
	free(expected);
	expected = fixture("calico.conflist");
	assert_string_equal(text, expected);
	free(text);
	free(expected);

	/* Second run: not even rewritten (same inode, same mtime). */
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	assert_int_equal(change, CNI_CONF_UNCHANGED);
	free(path);
	stat_file(n->conf, "10-flannel.conflist", &after);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

static void test_ensure_wraps_conf(void **state)
{
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	char *path, *text, *expected = fixture("expected/bridge.conflist");
	struct stat st;

	assert_int_equal(put_fixture(n->conf, "bridge.conf", "10-bridge.conf", 0600), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	assert_int_equal(change, CNI_CONF_INSERTED);
	assert_non_null(strstr(path, "/10-bridge.conflist"));
	free(path);
	text = dir_file(n->conf, "10-bridge.conflist");
	assert_string_equal(text, expected);
	free(text);
	stat_file(n->conf, "10-bridge.conflist", &st);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = dir_file(n->conf, "10-bridge.conf");
	assert_null(text);

	/* The primary CNI writes its .conf again: it sorts first, so it is wrapped again over our conflist. */
	assert_int_equal(put_fixture(n->conf, "bridge.conf", "10-bridge.conf", 0600), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	free(path);
	text = dir_file(n->conf, "10-bridge.conflist");
	assert_string_equal(text, expected);
	free(text);
	assert_null(dir_file(n->conf, "10-bridge.conf"));
	free(expected);
}

static void test_ensure_wrap_never_replaces_a_foreign_conflist(void **state)
{
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	char *path, *text, *orig = fixture("compact.conflist");

	assert_int_equal(put_fixture(n->conf, "bridge.conf", "10-net.conf", 0644), 0);
	assert_int_equal(put_fixture(n->conf, "compact.conflist", "10-net.conflist", 0644), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), -EEXIST);
	assert_null(path);
	assert_non_null(strstr(err.msg, "10-net.conflist, which is not ours"));
	text = dir_file(n->conf, "10-net.conflist");
	assert_string_equal(text, orig);
	free(text);
	text = dir_file(n->conf, "10-net.conf");
	assert_non_null(text);
	free(text);
	free(orig);
}

static void test_ensure_malformed_untouched(void **state)
{
	static const char *const names[] = {
		"malformed-json.conflist",
		"malformed-no-plugins.conflist",
		"malformed-plugins-not-list.conflist",
		"malformed-plugin-not-object.conflist",
		"malformed-plugin-no-type.conflist",
		"malformed-conf-no-type.conf",
	};
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	struct stat before, after;
	char *path, file[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *orig = fixture(names[i]), *now;

		assert_int_equal(put_fixture(n->conf, names[i], names[i], 0644), 0);
		stat_file(n->conf, names[i], &before);
		assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err),
				 -EINVAL);
		assert_null(path);
		assert_non_null(strstr(err.msg, names[i]));
		now = dir_file(n->conf, names[i]);
		assert_string_equal(now, orig);
		stat_file(n->conf, names[i], &after);
		assert_int_equal(after.st_ino, before.st_ino);
		free(now);
		free(orig);
		/* Leave the dir with only the next case in it. */
		snprintf(file, sizeof(file), "%s/%s", n->conf, names[i]);
		assert_int_equal(unlink(file), 0);
	}
	/* No temp files left behind. */
	assert_int_equal(cni_conf_find_primary(n->conf, &path), -ENOENT);
}

static void test_ensure_symlinked_conflist(void **state)
{
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	char target[PATH_MAX], link_path[PATH_MAX], *path, *text, *expected = fixture("expected/flannel.conflist");
	struct stat st;

	assert_int_equal(put_fixture(n->root, "flannel.conflist", "real.conflist", 0644), 0);
	snprintf(target, sizeof(target), "%s/real.conflist", n->root);
	snprintf(link_path, sizeof(link_path), "%s/10-flannel.conflist", n->conf);
	assert_int_equal(symlink(target, link_path), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	free(path);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	text = slurp(target);
	assert_string_equal(text, expected);
	free(text);
	free(expected);
}

static void test_remove_round_trip(void **state)
{
	struct node *n = *state;
	enum cni_conf_change change;
	struct socklb_err err;
	char *path, *text, *orig = fixture("calico.conflist"), *broken = fixture("malformed-json.conflist");
	char bad[PATH_MAX];
	int removed;
	struct stat st;

	assert_int_equal(put_fixture(n->conf, "calico.conflist", "10-calico.conflist", 0640), 0);
	/* A broken file that does not mention us does not stop the uninstall. */
	assert_int_equal(put_fixture(n->conf, "malformed-json.conflist", "50-broken.conflist", 0644), 0);
	assert_int_equal(cni_conf_ensure(&n->opts, DEFAULT_ENTRY, CNI_ENTRY_REPLACE, &path, &change, &err), 0);
	free(path);
	assert_int_equal(cni_conf_remove(&n->opts, &removed, &err), 0);
	assert_int_equal(removed, 1);
	text = dir_file(n->conf, "10-calico.conflist");
	assert_string_equal(text, orig);
	free(text);
	stat_file(n->conf, "10-calico.conflist", &st);
	assert_int_equal(st.st_mode & 07777, 0640);
	text = dir_file(n->conf, "50-broken.conflist");
	assert_string_equal(text, broken);
	free(text);
	assert_int_equal(cni_conf_remove(&n->opts, &removed, &err), 0);
	assert_int_equal(removed, 0);

	/* One that mentions socklb but cannot be parsed is reported and left alone. */
	snprintf(bad, sizeof(bad), "%s/60-broken.conflist", n->conf);
	assert_int_equal(put_file(bad, "{\"name\":\"x\",\"plugins\":[{\"type\":\"socklb\"},]}", 0644), 0);
	assert_int_equal(cni_conf_remove(&n->opts, &removed, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "60-broken.conflist: not valid JSON"));
	free(broken);
	free(orig);
}

/* The plugin binary --------------------------------------------------------------- */

static void test_plugin_install(void **state)
{
	struct node *n = *state;
	struct socklb_err err;
	char src[PATH_MAX], dest[PATH_MAX], *text;
	struct stat st, again;
	bool changed;

	snprintf(src, sizeof(src), "%s/socklb-build", n->root);
	assert_int_equal(put_file(src, "#!/bin/sh\necho plugin v1\n", 0700), 0);
	n->opts.plugin_binary = src;
	assert_int_equal(cni_plugin_install(&n->opts, &changed, &err), 0);
	assert_true(changed);
	snprintf(dest, sizeof(dest), "%s/socklb", n->bin);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	text = slurp(dest);
	assert_string_equal(text, "#!/bin/sh\necho plugin v1\n");
	free(text);

	assert_int_equal(cni_plugin_install(&n->opts, &changed, &err), 0);
	assert_false(changed);
	assert_int_equal(stat(dest, &again), 0);
	assert_int_equal(again.st_ino, st.st_ino);

	/* A new build of the same size is a new binary. */
	assert_int_equal(put_file(src, "#!/bin/sh\necho plugin v2\n", 0700), 0);
	assert_int_equal(cni_plugin_install(&n->opts, &changed, &err), 0);
	assert_true(changed);
	text = slurp(dest);
	assert_string_equal(text, "#!/bin/sh\necho plugin v2\n");
	free(text);

	assert_int_equal(cni_plugin_uninstall(&n->opts, &err), 0);
	assert_int_not_equal(stat(dest, &st), 0);
	assert_int_equal(cni_plugin_uninstall(&n->opts, &err), 0);

	snprintf(src, sizeof(src), "%s/missing", n->root);
	assert_int_equal(cni_plugin_install(&n->opts, &changed, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing"));
	n->opts.bin_dir = src;
	n->opts.plugin_binary = dest;
	assert_int_equal(put_file(dest, "x", 0755), 0);
	assert_int_equal(cni_plugin_install(&n->opts, &changed, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot create a file in"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_default),
		cmocka_unit_test(test_entry_extra_keys),
		cmocka_unit_test(test_entry_bad_config),
		cmocka_unit_test(test_put_flannel),
		cmocka_unit_test(test_put_calico),
		cmocka_unit_test(test_put_compact),
		cmocka_unit_test(test_put_twice_is_unchanged),
		cmocka_unit_test(test_put_existing_entry),
		cmocka_unit_test(test_put_entry_in_the_middle_stays),
		cmocka_unit_test(test_drop_first_and_duplicates),
		cmocka_unit_test(test_strings_and_escapes),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test_setup_teardown(test_find_primary_order, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_ensure_keeps_mode_and_does_not_rewrite, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_ensure_wraps_conf, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_ensure_wrap_never_replaces_a_foreign_conflist, node_setup,
						node_teardown),
		cmocka_unit_test_setup_teardown(test_ensure_malformed_untouched, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_ensure_symlinked_conflist, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_remove_round_trip, node_setup, node_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_install, node_setup, node_teardown),
	};

	/* The installer's info lines would interleave with the test output. */
	socklb_log_init("test", SOCKLB_LOG_WARN, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
