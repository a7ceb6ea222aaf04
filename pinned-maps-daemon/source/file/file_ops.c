// SPDX-License-Identifier: Apache-2.0
/* The file source behind the source interface: see file_ops.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file_ops.h"
#include "file_source.h"

/*
 * A load is synced once all of it is in the store, so a new Service and its
 * EndpointSlices reach the maps in the same pass (never a frontend without
 * its backends in between). Applying even a whole 10,000-service file takes
 * well under this; it only bounds a stuck load.
 */
#define LOAD_MAX_MS 5000

struct file_ops_source {
	struct source base;
	struct file_source *fs;
};

static void file_wait_written(struct source *src)
{
	file_source_wait_written(((struct file_ops_source *)src)->fs, LOAD_MAX_MS);
}

static void file_free(struct source *src)
{
	struct file_ops_source *f = (struct file_ops_source *)src;

	file_source_free(f->fs);
	free(f);
}

static const struct source_ops file_ops = {
	.wait_written = file_wait_written,
	.free = file_free,
};

int file_source_check(const struct source_config *cfg, const char *path, struct socklb_err *e)
{
	(void)path;
	if (cfg->kubeconfig || cfg->context || cfg->api_server)
		return socklb_fail(e, -EINVAL, "%s only applies to --source kubernetes",
				   cfg->kubeconfig ? "--kubeconfig"
				   : cfg->context  ? "--context"
						   : "--api-server");
	return 0;
}

int file_source_open(const struct source_config *cfg, const char *path, struct store *s, struct metrics *metrics,
		     struct source **out, struct socklb_err *e)
{
	struct file_ops_source *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return socklb_fail(e, -ENOMEM, "out of memory starting the file source");
	f->base.ops = &file_ops;
	err = file_source_new(path, s, metrics, &f->fs);
	if (err) {
		free(f);
		return socklb_fail(e, err, "file source %s: %s", path, strerror(-err));
	}
	/*
	 * A load that fails has said why itself (file_source.c still logs its
	 * own errors): e is left empty so that it is not said twice. The
	 * daemon goes on and loads the file again once it changes.
	 */
	err = file_source_load(f->fs);
	if (err && cfg->once)
		goto fail;
	if (!cfg->once) {
		err = file_source_watch(f->fs);
		if (err) {
			socklb_fail(e, err, "cannot watch %s: %s", path, strerror(-err));
			goto fail;
		}
	}
	*out = &f->base;
	return 0;
fail:
	file_free(&f->base);
	return err;
}
