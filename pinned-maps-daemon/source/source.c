// SPDX-License-Identifier: Apache-2.0
/* The sources by the names --source gives them: see source.h. */
#include <errno.h>
#include <string.h>

#include "file_ops.h"
#include "kube.h"
#include "source.h"

struct source_kind {
	const char *prefix; /* the --source value; with takes_arg, what comes before the argument */
	bool takes_arg; /* "file:PATH": the rest is the path */
	int (*check)(const struct source_config *cfg, const char *arg, struct socklb_err *e);
	int (*start)(const struct source_config *cfg, const char *arg, struct store *s, struct metrics *metrics,
		     struct source **out, struct socklb_err *e);
};

static const struct source_kind kinds[] = {
	{ "kubernetes", false, kube_source_check, kube_source_open },
	{ "file:", true, file_source_check, file_source_open },
};

/* The kind spec names, and its argument in *arg; NULL when none. */
static const struct source_kind *kind_of(const char *spec, const char **arg)
{
	for (size_t i = 0; spec && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (kinds[i].takes_arg ? strncmp(spec, kinds[i].prefix, n) == 0 && spec[n]
				       : strcmp(spec, kinds[i].prefix) == 0) {
			*arg = spec + n;
			return &kinds[i];
		}
	}
	return NULL;
}

int source_check(const struct source_config *cfg, struct socklb_err *e)
{
	const struct source_kind *kind;
	const char *arg;

	if (!cfg->spec)
		return socklb_fail(e, -EINVAL, "--source is required (file:PATH or kubernetes)");
	kind = kind_of(cfg->spec, &arg);
	if (!kind)
		return socklb_fail(e, -EINVAL, "--source \"%s\": expected file:PATH or kubernetes", cfg->spec);
	return kind->check(cfg, arg, e);
}

int source_start(const struct source_config *cfg, struct store *s, struct metrics *metrics, struct source **out,
		 struct socklb_err *e)
{
	const char *arg;
	const struct source_kind *kind = kind_of(cfg->spec, &arg);

	*out = NULL;
	if (!kind)
		return socklb_fail(e, -EINVAL, "--source \"%s\": expected file:PATH or kubernetes", cfg->spec);
	return kind->start(cfg, arg, s, metrics, out, e);
}

void source_wait_written(struct source *src)
{
	src->ops->wait_written(src);
}

unsigned long source_restarts(const struct source *src)
{
	return src && src->ops->restarts ? src->ops->restarts(src) : 0;
}

void source_free(struct source *src)
{
	if (src)
		src->ops->free(src);
}
