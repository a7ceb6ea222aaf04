// SPDX-License-Identifier: Apache-2.0
#include "service_metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lbmap.h"
#include "log.h"

struct service_metrics {
	char *root;
	struct socklb_maps maps;
	bool open;
};

struct service_metrics *service_metrics_new(const char *bpffs_root)
{
	struct service_metrics *sm = calloc(1, sizeof(*sm));

	if (!sm)
		return NULL;
	sm->root = strdup(bpffs_root);
	if (!sm->root) {
		free(sm);
		return NULL;
	}
	return sm;
}

void service_metrics_free(struct service_metrics *sm)
{
	if (!sm)
		return;
	if (sm->open)
		socklb_maps_close(&sm->maps);
	free(sm->root);
	free(sm);
}

struct render {
	struct service_metrics *sm;
	FILE *translated;
	FILE *no_backend;
};

static int render_one(const struct socklb_frontend *fe, const struct socklb_svc *svc, void *ctx)
{
	struct render *r = ctx;
	char name[SOCKLB_ENDPOINT_STRLEN];
	struct socklb_stats sum;
	const char *proto = socklb_proto_name(fe->proto);

	if (socklb_service_stats(&r->sm->maps, svc->id, &sum))
		return 0;
	socklb_endpoint_format(fe->addr, fe->port, name, sizeof(name));
	fprintf(r->translated, "socklb_service_translated_total{frontend=\"%s\",protocol=\"%s\"} %llu\n", name, proto,
		(unsigned long long)sum.translated);
	fprintf(r->no_backend, "socklb_service_no_backend_total{frontend=\"%s\",protocol=\"%s\"} %llu\n", name, proto,
		(unsigned long long)sum.no_backend);
	return 0;
}

void service_metrics_collect(FILE *out, void *ctx)
{
	struct service_metrics *sm = ctx;
	struct render r = { .sm = sm, .translated = out };
	char *tail = NULL;
	size_t tail_len = 0;
	int err;

	fputs("# HELP socklb_service_translated_total Connects and datagrams sent to a backend, per frontend.\n"
	      "# TYPE socklb_service_translated_total counter\n",
	      out);
	if (!sm->open) {
		err = socklb_maps_open_existing(sm->root, &sm->maps);
		if (err) {
			pr_debug("per-service metrics: no maps under %s yet: %s", sm->root, strerror(-err));
			return;
		}
		sm->open = true;
	}
	/* A family's samples must be contiguous: the second family is gathered aside and appended. */
	r.no_backend = open_memstream(&tail, &tail_len);
	if (!r.no_backend)
		return;
	err = socklb_frontend_foreach(&sm->maps, render_one, &r);
	if (err)
		pr_warn("per-service metrics: reading the services map: %s", strerror(-err));
	fclose(r.no_backend);
	fputs("# HELP socklb_service_no_backend_total Connects refused because the frontend had no backend.\n"
	      "# TYPE socklb_service_no_backend_total counter\n",
	      out);
	fwrite(tail, 1, tail_len, out);
	free(tail);
}
