// SPDX-License-Identifier: Apache-2.0
#include "dump.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lbmap.h"
#include "log.h"
#include "terminate.h"
#include "translate.h"

struct dump_entry {
	struct socklb_frontend fe;
	__u32 affinity_timeout;
	__u32 n;
	struct socklb_endpoint *be;
};

struct dump {
	struct dump_entry *items;
	size_t n;
	size_t cap;
};

static int endpoint_qsort_cmp(const void *a, const void *b)
{
	return endpoint_cmp(a, b);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct dump_entry *x = a, *y = b;

	return frontend_cmp(&x->fe, &y->fe);
}

static int collect(const struct socklb_frontend *fe, const struct socklb_svc *svc, const struct socklb_endpoint *be,
		   __u32 n, void *ctx)
{
	struct dump *d = ctx;
	struct dump_entry *e;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dump_entry *items = realloc(d->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		d->items = items;
		d->cap = cap;
	}
	e = &d->items[d->n];
	e->fe = *fe;
	e->affinity_timeout = svc->affinity_timeout;
	e->n = n;
	e->be = calloc(n ? n : 1, sizeof(*be));
	if (!e->be)
		return -ENOMEM;
	memcpy(e->be, be, n * sizeof(*be));
	qsort(e->be, n, sizeof(*be), endpoint_qsort_cmp);
	d->n++;
	return 0;
}

static int print_json(const struct dump *d, FILE *out)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *services = cJSON_AddArrayToObject(root, "services");
	char *text;

	for (size_t i = 0; services && i < d->n; i++) {
		const struct dump_entry *e = &d->items[i];
		cJSON *svc = cJSON_CreateObject();
		cJSON *backends;
		char buf[SOCKLB_ENDPOINT_STRLEN];

		cJSON_AddItemToArray(services, svc);
		socklb_endpoint_format(e->fe.addr, e->fe.port, buf, sizeof(buf));
		cJSON_AddStringToObject(svc, "frontend", buf);
		cJSON_AddStringToObject(svc, "protocol", socklb_proto_name(e->fe.proto));
		backends = cJSON_AddArrayToObject(svc, "backends");
		for (__u32 k = 0; backends && k < e->n; k++) {
			socklb_endpoint_format(e->be[k].addr, e->be[k].port, buf, sizeof(buf));
			cJSON_AddItemToArray(backends, cJSON_CreateString(buf));
		}
		cJSON_AddNumberToObject(svc, "affinityTimeoutSeconds", e->affinity_timeout);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return 0;
}

/* The socket termination method a daemon started here with --termination-method auto uses, and why. */
static void print_termination(const char *bpffs_root, FILE *out)
{
	char why[SOCKLB_TERM_WHY_LEN];
	struct socklb_term_probe p;
	enum socklb_term_method m;
	int err = socklb_term_probe(bpffs_root, &p);

	if (err) {
		fprintf(out, "# socket termination: unknown (probing: %s)\n", strerror(-err));
		return;
	}
	m = socklb_term_method_choose(&p, why, sizeof(why));
	fprintf(out, "# socket termination: %s (%s)\n", socklb_term_method_name(m), why);
}

static void print_table(const struct dump *d, FILE *out)
{
	fprintf(out, "%-47s %-5s %-8s %s\n", "FRONTEND", "PROTO", "AFFINITY", "BACKENDS");
	for (size_t i = 0; i < d->n; i++) {
		const struct dump_entry *e = &d->items[i];
		char buf[SOCKLB_ENDPOINT_STRLEN];

		socklb_endpoint_format(e->fe.addr, e->fe.port, buf, sizeof(buf));
		fprintf(out, "%-47s %-5s %-8u ", buf, socklb_proto_name(e->fe.proto), e->affinity_timeout);
		if (!e->n)
			fputs("(none: connects are refused)", out);
		for (__u32 k = 0; k < e->n; k++) {
			socklb_endpoint_format(e->be[k].addr, e->be[k].port, buf, sizeof(buf));
			fprintf(out, "%s%s", k ? "," : "", buf);
		}
		fputc('\n', out);
	}
}

int dump_maps(const char *bpffs_root, bool json, FILE *out)
{
	struct socklb_maps maps;
	struct dump d = { 0 };
	int err;

	err = socklb_maps_open_existing(bpffs_root, &maps);
	if (err) {
		if (err == -ENOENT)
			pr_err("no socklb maps are pinned under %s (has socklb-syncd or the plugin run?)", bpffs_root);
		else
			pr_err("cannot open the maps pinned under %s: %s", bpffs_root, strerror(-err));
		return err;
	}
	err = socklb_service_foreach(&maps, collect, &d);
	if (err) {
		pr_err("reading the services pinned under %s: %s", bpffs_root, strerror(-err));
		goto out;
	}
	if (d.n)
		qsort(d.items, d.n, sizeof(*d.items), entry_cmp);
	if (json) {
		err = print_json(&d, out);
	} else {
		print_termination(bpffs_root, out);
		print_table(&d, out);
	}
out:
	for (size_t i = 0; i < d.n; i++)
		free(d.items[i].be);
	free(d.items);
	socklb_maps_close(&maps);
	return err;
}
