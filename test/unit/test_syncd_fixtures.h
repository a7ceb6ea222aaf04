/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the socklb-syncd unit tests: find and load the Kubernetes object
 * fixtures (test/fixtures/k8s) and render a desired state as a sorted
 * "frontend -> backends" table that a test compares with its expectation.
 */
#ifndef TEST_SYNCD_FIXTURES_H
#define TEST_SYNCD_FIXTURES_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "desired_state.h"
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

/* Parse the named fixtures into one batch and make it the store's complete content. 0 on success. */
static inline int load_fixtures(struct store *s, const char *const *names)
{
	struct object_batch b;
	int err = object_batch_init(&b);

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
		err = object_list_parse(text, len, path, &b);
		free(text);
	}
	for (int k = 0; !err && k < K8S_KIND_COUNT; k++)
		err = store_replace(s, (enum k8s_kind)k, b.items[k]);
	object_batch_release(&b);
	return err;
}

/* A fixture object by kind/ns/name, copied, for tests that edit it; NULL when absent. */
static inline cJSON *fixture_object(const char *file, enum k8s_kind kind, const char *ns, const char *name)
{
	const char *const names[] = { file, NULL };
	struct store *s = store_new();
	cJSON *copy = NULL;

	if (load_fixtures(s, names) == 0) {
		store_lock(s);
		copy = cJSON_Duplicate(store_get(s, kind, ns, name), true);
		store_unlock(s);
	}
	store_free(s);
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
