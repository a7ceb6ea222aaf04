// SPDX-License-Identifier: Apache-2.0
#include "cni_conflist.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UTF8_BOM "\xEF\xBB\xBF"

static const char *const reserved_entry_keys[] = {
	"type", "capabilities", "name", "cniVersion", "runtimeConfig", "prevResult",
};

/* Parsing -------------------------------------------------------------------- */

/* JSON's whitespace (RFC 8259): the one definition the checks and the text edits below use. */
static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int parse_json(const char *what, const char *text, cJSON **doc, struct socklb_err *err)
{
	const char *end = NULL;
	size_t line = 1, column = 1;

	/*
	 * cJSON skips any control byte as whitespace. Refuse those that are not
	 * JSON's, as libcni does, so that the text editing below never meets a
	 * byte the parser skipped.
	 */
	for (const char *p = text; *p; p++) {
		if ((unsigned char)*p < 0x20 && !json_ws(*p)) {
			for (const char *q = text; q < p; q++) {
				if (*q == '\n') {
					line++;
					column = 1;
				} else {
					column++;
				}
			}
			return socklb_fail(err, -EINVAL, "%s: control character 0x%02x at line %zu, column %zu", what,
					   (unsigned char)*p, line, column);
		}
	}
	*doc = cJSON_ParseWithOpts(text, &end, true);
	if (*doc)
		return 0;
	for (const char *p = text; end && p < end && *p; p++) {
		if (*p == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	return socklb_fail(err, -EINVAL, "%s: not valid JSON (at line %zu, column %zu)", what, line, column);
}

static bool is_socklb(const cJSON *plugin)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(plugin, "type");

	return cJSON_IsString(type) && strcmp(type->valuestring, CNI_PLUGIN_TYPE) == 0;
}

static bool has_type(const cJSON *plugin)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(plugin, "type");

	return cJSON_IsString(type) && type->valuestring[0] != '\0';
}

static int count_keys(const cJSON *obj, const char *key)
{
	const cJSON *child;
	int n = 0;

	cJSON_ArrayForEach(child, obj) {
		if (child->string && strcmp(child->string, key) == 0)
			n++;
	}
	return n;
}

/*
 * Where things are in the text. The text has been parsed by cJSON before
 * these run, so they only need to step over valid JSON.
 */
static size_t skip_ws(const char *s, size_t i)
{
	while (json_ws(s[i]))
		i++;
	return i;
}

/* s[i] is the opening quote: the index after the closing one. */
static size_t skip_string(const char *s, size_t i)
{
	for (i++; s[i] && s[i] != '"'; i++)
		if (s[i] == '\\' && s[i + 1])
			i++;
	return s[i] ? i + 1 : i;
}

/* The index just after the value that starts at s[i]. */
static size_t skip_value(const char *s, size_t i)
{
	int depth = 0;

	if (s[i] == '"')
		return skip_string(s, i);
	if (s[i] != '{' && s[i] != '[') {
		while (s[i] && !json_ws(s[i]) && !strchr(",}]", s[i]))
			i++;
		return i;
	}
	while (s[i]) {
		if (s[i] == '"') {
			i = skip_string(s, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return i;
}

static size_t skip_bom_ws(const char *s)
{
	return skip_ws(s, strncmp(s, UTF8_BOM, strlen(UTF8_BOM)) == 0 ? strlen(UTF8_BOM) : 0);
}

struct span {
	size_t start, end; /* [start, end) */
};

/* A validated conflist: the parsed document and where each plugin is in the text. */
struct conflist {
	cJSON *doc;
	const cJSON *plugins;
	size_t open; /* the '[' of the plugins list */
	int count;
	struct span *items;
};

static void conflist_free(struct conflist *cl)
{
	cJSON_Delete(cl->doc);
	free(cl->items);
	memset(cl, 0, sizeof(*cl));
}

/* The elements of the array that opens at s[i]: 0 when exactly cl->count were found. */
static int locate_items(const char *s, size_t i, struct conflist *cl)
{
	int n = 0;

	cl->open = i;
	i = skip_ws(s, i + 1);
	while (s[i] && s[i] != ']' && n < cl->count) {
		cl->items[n].start = i;
		cl->items[n].end = skip_value(s, i);
		i = skip_ws(s, cl->items[n].end);
		n++;
		if (s[i] == ',')
			i = skip_ws(s, i + 1);
	}
	return n == cl->count && s[i] == ']' ? 0 : -EINVAL;
}

/* Find the top-level "plugins" key, written plainly, exactly once. */
static int locate_plugins(const char *s, struct conflist *cl)
{
	static const char key[] = "\"plugins\"";
	size_t i = skip_bom_ws(s);
	int found = 0, err = -EINVAL;

	if (s[i] != '{')
		return -EINVAL;
	i = skip_ws(s, i + 1);
	while (s[i] == '"') {
		size_t key_end = skip_string(s, i);
		bool is_plugins = key_end - i == strlen(key) && strncmp(s + i, key, strlen(key)) == 0;

		i = skip_ws(s, skip_ws(s, key_end) + 1);
		if (is_plugins) {
			found++;
			if (s[i] == '[')
				err = locate_items(s, i, cl);
		}
		i = skip_ws(s, skip_value(s, i));
		if (s[i] == ',')
			i = skip_ws(s, i + 1);
	}
	return found == 1 ? err : -EINVAL;
}

/* Parse and validate a conflist as libcni's ConfListFromBytes does, and locate its plugins. */
static int conflist_parse(const char *file, const char *text, struct conflist *cl, struct socklb_err *err)
{
	const cJSON *item;
	int ret, i = 0;

	memset(cl, 0, sizeof(*cl));
	ret = parse_json(file, text, &cl->doc, err);
	if (ret)
		return ret;
	if (!cJSON_IsObject(cl->doc)) {
		ret = socklb_fail(err, -EINVAL, "%s: not a JSON object", file);
		goto out;
	}
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cl->doc, "name"))) {
		ret = socklb_fail(err, -EINVAL, "%s: no \"name\" string (a conflist names its network)", file);
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(cl->doc, "cniVersion");
	if (item && !cJSON_IsString(item)) {
		ret = socklb_fail(err, -EINVAL, "%s: \"cniVersion\" is not a string", file);
		goto out;
	}
	if (count_keys(cl->doc, "plugins") > 1) {
		ret = socklb_fail(err, -EINVAL, "%s: the \"plugins\" key appears more than once", file);
		goto out;
	}
	cl->plugins = cJSON_GetObjectItemCaseSensitive(cl->doc, "plugins");
	if (!cl->plugins) {
		ret = socklb_fail(err, -EINVAL, "%s: no \"plugins\" list", file);
		goto out;
	}
	if (!cJSON_IsArray(cl->plugins)) {
		ret = socklb_fail(err, -EINVAL, "%s: \"plugins\" is not a list", file);
		goto out;
	}
	cl->count = cJSON_GetArraySize(cl->plugins);
	if (cl->count == 0) {
		ret = socklb_fail(err, -EINVAL, "%s: \"plugins\" is empty", file);
		goto out;
	}
	cJSON_ArrayForEach(item, cl->plugins) {
		if (!cJSON_IsObject(item)) {
			ret = socklb_fail(err, -EINVAL, "%s: plugins[%d] is not a JSON object", file, i);
			goto out;
		}
		if (!has_type(item)) {
			ret = socklb_fail(err, -EINVAL, "%s: plugins[%d] has no \"type\" string", file, i);
			goto out;
		}
		i++;
	}
	cl->items = calloc((size_t)cl->count, sizeof(*cl->items));
	if (!cl->items) {
		ret = socklb_fail(err, -ENOMEM, "%s: out of memory", file);
		goto out;
	}
	if (locate_plugins(text, cl)) {
		ret = socklb_fail(err, -EINVAL,
				  "%s: cannot find the \"plugins\" list in the text (is its key written with escapes?)",
				  file);
		goto out;
	}
	return 0;
out:
	conflist_free(cl);
	return ret;
}

/* The index of the first socklb entry (-1: none) and how many there are. */
static int find_socklb(const struct conflist *cl, int *how_many)
{
	const cJSON *item;
	int i = 0, first = -1;

	*how_many = 0;
	cJSON_ArrayForEach(item, cl->plugins) {
		if (is_socklb(item)) {
			if (first < 0)
				first = i;
			(*how_many)++;
		}
		i++;
	}
	return first;
}

int cni_conflist_count_socklb(const char *file, const char *text, int *count, struct socklb_err *err)
{
	struct conflist cl;
	int ret = conflist_parse(file, text, &cl, err);

	*count = 0;
	if (ret)
		return ret;
	find_socklb(&cl, count);
	conflist_free(&cl);
	return 0;
}

/* s with [cut_start, cut_end) replaced by ins1 ins2; NULL when out of memory. */
static char *text_splice(const char *s, size_t cut_start, size_t cut_end, const char *ins1, const char *ins2)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fprintf(f, "%.*s%s%s%s", (int)cut_start, s, ins1, ins2, s + cut_end);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

/* The text that separates the plugins (",\n    " or "," or ", "), to add one more the same way. */
static char *item_separator(const char *s, const struct conflist *cl)
{
	const struct span *last = &cl->items[cl->count - 1];
	size_t from;
	char *sep = NULL;

	if (cl->count > 1) {
		from = cl->items[cl->count - 2].end;
		return strndup(s + from, last->start - from);
	}
	/* One plugin: a comma, then what separates it from the '['. */
	from = cl->open + 1;
	if (asprintf(&sep, ",%.*s", (int)(last->start - from), s + from) < 0)
		return NULL;
	return sep;
}

int cni_conflist_put(const char *file, const char *text, const char *entry, enum cni_entry_mode mode, char **out,
		     enum cni_conf_change *change, struct socklb_err *err)
{
	struct conflist cl;
	cJSON *want = NULL;
	char *sep = NULL;
	int ret, k, n;

	*out = NULL;
	*change = CNI_CONF_UNCHANGED;
	ret = conflist_parse(file, text, &cl, err);
	if (ret)
		return ret;
	k = find_socklb(&cl, &n);
	if (n > 1) {
		ret = socklb_fail(err, -EINVAL, "%s: %d socklb entries in \"plugins\"; uninstall-cni removes them all",
				  file, n);
		goto out;
	}
	if (k >= 0) {
		want = cJSON_Parse(entry);
		if (!want) {
			ret = socklb_fail(err, -EINVAL, "the socklb entry is not valid JSON: %s", entry);
			goto out;
		}
		if (mode == CNI_ENTRY_KEEP || cJSON_Compare(cJSON_GetArrayItem(cl.plugins, k), want, true))
			goto out;
		*out = text_splice(text, cl.items[k].start, cl.items[k].end, entry, "");
		*change = CNI_CONF_UPDATED;
	} else {
		const struct span *last = &cl.items[cl.count - 1];

		sep = item_separator(text, &cl);
		*out = sep ? text_splice(text, last->end, last->end, sep, entry) : NULL;
		*change = CNI_CONF_INSERTED;
	}
	if (!*out) {
		*change = CNI_CONF_UNCHANGED;
		ret = socklb_fail(err, -ENOMEM, "%s: out of memory", file);
	}
out:
	free(sep);
	cJSON_Delete(want);
	conflist_free(&cl);
	return ret;
}

int cni_conflist_drop(const char *file, const char *text, char **out, struct socklb_err *err)
{
	char *cur = NULL;
	int ret = 0;

	*out = NULL;
	for (;;) {
		const char *s = cur ? cur : text;
		struct conflist cl;
		size_t cut_start, cut_end;
		char *next;
		int k, n;

		ret = conflist_parse(file, s, &cl, err);
		if (ret)
			break;
		k = find_socklb(&cl, &n);
		if (k < 0) {
			conflist_free(&cl);
			break;
		}
		if (cl.count == 1) {
			conflist_free(&cl);
			ret = socklb_fail(err, -EINVAL,
					  "%s: socklb is its only plugin; removing it would leave an invalid file",
					  file);
			break;
		}
		/* Take the separator before the entry (after it when first), so an insert-then-drop is exact. */
		cut_start = k > 0 ? cl.items[k - 1].end : cl.items[k].start;
		cut_end = k > 0 ? cl.items[k].end : cl.items[k + 1].start;
		conflist_free(&cl);
		next = text_splice(s, cut_start, cut_end, "", "");
		free(cur);
		cur = next;
		if (!cur) {
			ret = socklb_fail(err, -ENOMEM, "%s: out of memory", file);
			break;
		}
	}
	if (ret) {
		free(cur);
		return ret;
	}
	*out = cur;
	return 0;
}

int cni_conf_wrap(const char *file, const char *text, char **out, struct socklb_err *err)
{
	const cJSON *name, *version;
	char *name_json = NULL, *version_json = NULL, *buf = NULL;
	size_t start = skip_bom_ws(text), end = strlen(text), len = 0;
	cJSON *doc;
	FILE *f;
	int ret;

	*out = NULL;
	ret = parse_json(file, text, &doc, err);
	if (ret)
		return ret;
	name = cJSON_GetObjectItemCaseSensitive(doc, "name");
	version = cJSON_GetObjectItemCaseSensitive(doc, "cniVersion");
	if (!cJSON_IsObject(doc)) {
		ret = socklb_fail(err, -EINVAL, "%s: not a JSON object", file);
	} else if (!has_type(doc)) {
		ret = socklb_fail(err, -EINVAL,
				  "%s: no \"type\" string (a .conf or .json file holds one plugin; a list belongs in a "
				  ".conflist file)",
				  file);
	} else if (!cJSON_IsString(name)) {
		ret = socklb_fail(err, -EINVAL, "%s: no \"name\" string (a network config names its network)", file);
	} else if (version && !cJSON_IsString(version)) {
		ret = socklb_fail(err, -EINVAL, "%s: \"cniVersion\" is not a string", file);
	}
	if (ret)
		goto out;
	name_json = cJSON_PrintUnformatted(name);
	version_json = version ? cJSON_PrintUnformatted(version) : NULL;
	f = open_memstream(&buf, &len);
	if (!name_json || (version && !version_json) || !f) {
		if (f)
			fclose(f);
		ret = socklb_fail(err, -ENOMEM, "%s: out of memory", file);
		goto out;
	}
	/* The plugin goes in as written, one level deeper: JSON strings hold no raw newline. */
	while (end > start && json_ws(text[end - 1]))
		end--;
	fputs("{\n", f);
	if (version_json)
		fprintf(f, "\t\"cniVersion\": %s,\n", version_json);
	fprintf(f, "\t\"name\": %s,\n\t\"plugins\": [\n\t\t", name_json);
	for (size_t i = start; i < end; i++) {
		fputc(text[i], f);
		if (text[i] == '\n')
			fputs("\t\t", f);
	}
	fputs("\n\t]\n}\n", f);
	if (fclose(f)) {
		free(buf);
		buf = NULL;
		ret = socklb_fail(err, -ENOMEM, "%s: out of memory", file);
	}
	*out = buf;
out:
	free(name_json);
	free(version_json);
	cJSON_Delete(doc);
	return ret;
}

/* The entry ---------------------------------------------------------------- */

static bool is_reserved_key(const char *key)
{
	for (size_t i = 0; i < sizeof(reserved_entry_keys) / sizeof(reserved_entry_keys[0]); i++)
		if (strcmp(key, reserved_entry_keys[i]) == 0)
			return true;
	return false;
}

static int add_extra_keys(cJSON *entry, const char *extra_json, struct socklb_err *err)
{
	const cJSON *child;
	cJSON *extra;
	int ret;

	ret = parse_json("socklb entry config", extra_json, &extra, err);
	if (ret)
		return ret;
	if (!cJSON_IsObject(extra)) {
		ret = socklb_fail(err, -EINVAL,
				  "socklb entry config: must be a JSON object, e.g. {\"namespaces\":[\"*\"]}");
		goto out;
	}
	cJSON_ArrayForEach(child, extra) {
		cJSON *copy;

		/* cJSON names every member of an object; the analyzers cannot know that. */
		if (!child->string)
			continue;
		if (is_reserved_key(child->string)) {
			ret = socklb_fail(err, -EINVAL,
					  "socklb entry config: \"%s\" is set by the installer or the runtime",
					  child->string);
			goto out;
		}
		if (count_keys(extra, child->string) > 1) {
			ret = socklb_fail(err, -EINVAL, "socklb entry config: \"%s\" appears more than once",
					  child->string);
			goto out;
		}
		copy = cJSON_Duplicate(child, true);
		if (!copy || !cJSON_AddItemToObject(entry, child->string, copy)) {
			cJSON_Delete(copy);
			ret = socklb_fail(err, -ENOMEM, "socklb entry config: out of memory");
			goto out;
		}
	}
out:
	cJSON_Delete(extra);
	return ret;
}

int cni_entry_build(const char *extra_json, char **entry, struct socklb_err *err)
{
	cJSON *doc = cJSON_CreateObject(), *caps;
	int ret = 0;

	*entry = NULL;
	if (!doc || !cJSON_AddStringToObject(doc, "type", CNI_PLUGIN_TYPE)) {
		ret = socklb_fail(err, -ENOMEM, "socklb entry: out of memory");
		goto out;
	}
	if (extra_json) {
		ret = add_extra_keys(doc, extra_json, err);
		if (ret)
			goto out;
	}
	/* The runtime passes only what the entry declares: the pod's cgroup and its annotations (opt-in). */
	caps = cJSON_AddObjectToObject(doc, "capabilities");
	if (!caps || !cJSON_AddTrueToObject(caps, "cgroupPath") ||
	    !cJSON_AddTrueToObject(caps, "io.kubernetes.cri.pod-annotations") ||
	    !(*entry = cJSON_PrintUnformatted(doc)))
		ret = socklb_fail(err, -ENOMEM, "socklb entry: out of memory");
out:
	cJSON_Delete(doc);
	return ret;
}
