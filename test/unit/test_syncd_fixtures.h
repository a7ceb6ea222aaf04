/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the socklb-syncd unit tests: find and load the Kubernetes object
 * fixtures (test/fixtures/k8s) and render a desired state as a sorted
 * "frontend -> backends" table that a test compares with its expectation.
 */
#ifndef TEST_SYNCD_FIXTURES_H
#define TEST_SYNCD_FIXTURES_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "desired_state.h"
#include "k8s_decode.h"
#include "k8s_object.h"
#include "object_list.h"
#include "store.h"
#include "translate.h"

/* $SOCKLB_FIXTURES, else test/fixtures/k8s from the working directory or from the binary (build/test/…). */
static inline void fixture_path(const char *name, char *buf, size_t len)
{
	const char *env = getenv("SOCKLB_FIXTURES");
	char exe[PATH_MAX];
	ssize_t n;

	if (env) {
		snprintf(buf, len, "%s/%s", env, name);
		return;
	}
	snprintf(buf, len, "test/fixtures/k8s/%s", name);
	if (access(buf, R_OK) == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(buf, len, "%s/../../test/fixtures/k8s/%s", exe, name);
	}
}

static inline char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Decode an object of kind from JSON text; NULL (logged) when it does not decode. */
static inline struct k8s_object *from_text(enum k8s_kind kind, const char *text)
{
	struct k8s_decoder *d = k8s_decoder_new();
	struct json_reader r = { 0 };
	struct k8s_object *obj = NULL;

	json_reader_init(&r, text, 0, strlen(text));
	if (d && (k8s_decode(d, &r, kind, NULL, &obj) || json_expect_end(&r))) {
		fprintf(stderr, "cannot decode %s at byte %zu: %s\n", text, r.err_offset, r.err_what);
		k8s_object_free(obj);
		obj = NULL;
	}
	json_reader_release(&r);
	k8s_decoder_free(d);
	return obj;
}

/* Decode an object of kind from a cJSON tree, which it frees: the tests edit objects as trees. */
static inline struct k8s_object *from_cjson(enum k8s_kind kind, cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	struct k8s_object *obj = text ? from_text(kind, text) : NULL;

	free(text);
	cJSON_Delete(json);
	return obj;
}

/* Parse the named fixtures into one batch and make it the store's complete content. 0 on success. */
static inline int load_fixtures(struct store *s, const char *const *names)
{
	struct object_batch b = { 0 };
	struct object_parser p;
	int err = object_parser_init(&p);

	for (; !err && *names; names++) {
		char path[PATH_MAX];
		size_t len;
		char *text;

		fixture_path(*names, path, sizeof(path));
		text = read_text(path, &len);
		if (!text) {
			fprintf(stderr, "cannot read fixture %s\n", path);
			err = -1;
			break;
		}
		err = object_list_parse(&p, text, len, path, &b);
		free(text);
	}
	for (int k = 0; !err && k < K8S_KIND_COUNT; k++) {
		err = store_replace(s, (enum k8s_kind)k, b.items[k], b.n[k]);
		b.n[k] = 0;
	}
	object_batch_release(&b);
	object_parser_release(&p);
	return err;
}

/* A fixture object by kind/ns/name as a cJSON tree, for tests that edit it; NULL when absent. */
static inline cJSON *fixture_object(const char *file, enum k8s_kind kind, const char *ns, const char *name)
{
	char path[PATH_MAX];
	char *text;
	cJSON *doc, *item, *copy = NULL;

	fixture_path(file, path, sizeof(path));
	text = read_text(path, NULL);
	doc = text ? cJSON_Parse(text) : NULL;
	free(text);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "items")) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "kind"));
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "name"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "namespace"));

		if (k && k8s_kind_parse(k) == (int)kind && n && strcmp(n, name) == 0 && strcmp(s ? s : "", ns) == 0) {
			copy = cJSON_Duplicate(item, true);
			break;
		}
	}
	cJSON_Delete(doc);
	return copy;
}

struct table {
	char **lines;
	size_t n;
};

static inline int table_add(const struct desired_frontend *df, void *ctx)
{
	struct table *t = ctx;
	char fe[FRONTEND_STRLEN], ep[SOCKLB_ENDPOINT_STRLEN];
	char *line = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&line, &len);

	frontend_format(&df->fe, fe, sizeof(fe));
	fprintf(out, "%s", fe);
	if (df->affinity_timeout)
		fprintf(out, " affinity=%u", df->affinity_timeout);
	fprintf(out, " ->");
	if (!df->n_backends)
		fprintf(out, " (none)");
	for (__u32 i = 0; i < df->n_backends; i++) {
		socklb_endpoint_format(df->backends[i].addr, df->backends[i].port, ep, sizeof(ep));
		fprintf(out, "%s%s", i ? "," : " ", ep);
	}
	fclose(out);
	t->lines = realloc(t->lines, (t->n + 1) * sizeof(*t->lines));
	t->lines[t->n++] = line;
	return 0;
}

static inline int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The desired state as sorted lines "10.96.0.10:53/UDP -> 10.244.1.5:53,…", joined by "\n". */
static inline char *desired_table(const struct desired_state *d)
{
	struct table t = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	desired_state_foreach(d, table_add, &t);
	qsort(t.lines, t.n, sizeof(*t.lines), line_cmp);
	for (size_t i = 0; i < t.n; i++) {
		fprintf(out, "%s\n", t.lines[i]);
		free(t.lines[i]);
	}
	free(t.lines);
	fclose(out);
	return text;
}

#endif /* TEST_SYNCD_FIXTURES_H */
