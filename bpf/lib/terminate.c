// SPDX-License-Identifier: Apache-2.0
/*
 * Socket termination: see terminate.h. This file puts a method together from
 * its parts (term_internal.h): probing them, choosing, and running a batch
 * (find the namespaces, open them from the attached pods, destroy in each).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lbmap.h"
#include "log.h"
#include "term_internal.h"

#define PART(p) (1U << SOCKLB_TERM_PART_##p)

/* What a method is made of: the parts it needs, the programs it loads, and how it finds and destroys. */
struct method_desc {
	const char *name;
	unsigned int parts; /* PART(...) */
	unsigned int progs; /* TERM_BPF_* */
};

static const struct method_desc methods[SOCKLB_TERM_METHODS] = {
	[SOCKLB_TERM_OFF] = { "off", 0, 0 },
	[SOCKLB_TERM_RECORDS_BPF] = { "records+bpf", PART(NETNS) | PART(RECORDS) | PART(BPF),
				      TERM_BPF_RECORDS | TERM_BPF_DESTROY },
	[SOCKLB_TERM_RECORDS_DIAG] = { "records+diag", PART(NETNS) | PART(RECORDS) | PART(DIAG), TERM_BPF_RECORDS },
	[SOCKLB_TERM_TASKS_BPF] = { "tasks+bpf", PART(NETNS) | PART(TASKS) | PART(BPF),
				    TERM_BPF_TASKS | TERM_BPF_DESTROY },
	[SOCKLB_TERM_TASKS_DIAG] = { "tasks+diag", PART(NETNS) | PART(TASKS) | PART(IDS) | PART(DIAG),
				     TERM_BPF_TASKS | TERM_BPF_IDS },
	[SOCKLB_TERM_PODS_BPF] = { "pods+bpf", PART(NETNS) | PART(BPF), TERM_BPF_DESTROY },
	[SOCKLB_TERM_PODS_DIAG] = { "pods+diag", PART(NETNS) | PART(IDS) | PART(DIAG), TERM_BPF_IDS },
};

/* The programs each probed part loads (none: the part is not a program). */
static const unsigned int part_progs[SOCKLB_TERM_PARTS] = {
	[SOCKLB_TERM_PART_RECORDS] = TERM_BPF_RECORDS,
	[SOCKLB_TERM_PART_TASKS] = TERM_BPF_TASKS,
	[SOCKLB_TERM_PART_BPF] = TERM_BPF_DESTROY,
	[SOCKLB_TERM_PART_IDS] = TERM_BPF_IDS,
};

static const char *const part_names[SOCKLB_TERM_PARTS] = {
	[SOCKLB_TERM_PART_NETNS] = "netns", [SOCKLB_TERM_PART_RECORDS] = "records", [SOCKLB_TERM_PART_TASKS] = "tasks",
	[SOCKLB_TERM_PART_BPF] = "bpf",	    [SOCKLB_TERM_PART_IDS] = "ids",	    [SOCKLB_TERM_PART_DIAG] = "diag",
};

struct socklb_term {
	enum socklb_term_method method;
	struct term_bpf *bpf; /* the method's programs, or only the maps (the socket records map's fd) */
	struct term_pods pods;
};

/* ---- methods ---------------------------------------------------------------------------- */

const char *socklb_term_method_name(enum socklb_term_method m)
{
	return m < SOCKLB_TERM_METHODS ? methods[m].name : "?";
}

int socklb_term_method_parse(const char *name, enum socklb_term_method *m)
{
	for (int i = 0; i < SOCKLB_TERM_METHODS; i++) {
		if (strcmp(name, methods[i].name) == 0) {
			*m = (enum socklb_term_method)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *socklb_term_part_name(enum socklb_term_part p)
{
	return p < SOCKLB_TERM_PARTS ? part_names[p] : "?";
}

/* The first part of m that p says does not work here, or SOCKLB_TERM_PARTS. */
static enum socklb_term_part method_missing(const struct socklb_term_probe *p, enum socklb_term_method m)
{
	int part;

	for (part = 0; part < SOCKLB_TERM_PARTS; part++)
		if ((methods[m].parts & (1U << part)) && p->err[part])
			return (enum socklb_term_part)part;
	return SOCKLB_TERM_PARTS;
}

int socklb_term_method_check(const struct socklb_term_probe *p, enum socklb_term_method m, char *why, size_t len)
{
	enum socklb_term_part part;

	if (m == SOCKLB_TERM_OFF || m >= SOCKLB_TERM_METHODS) {
		snprintf(why, len, "not a method");
		return -EINVAL;
	}
	part = method_missing(p, m);
	if (part != SOCKLB_TERM_PARTS) {
		snprintf(why, len, "%s: %s", part_names[part], p->why[part]);
		return p->err[part];
	}
	snprintf(why, len, "every part it needs works here");
	return 0;
}

enum socklb_term_method socklb_term_method_choose(const struct socklb_term_probe *p, char *why, size_t len)
{
	bool said[SOCKLB_TERM_PARTS] = { false };
	enum socklb_term_part part;
	size_t off = 0;
	int m;

	if (len)
		why[0] = '\0';
	for (m = SOCKLB_TERM_OFF + 1; m < SOCKLB_TERM_METHODS; m++) {
		part = method_missing(p, (enum socklb_term_method)m);
		if (part == SOCKLB_TERM_PARTS)
			break;
		/* what ruled this one out, once per part */
		if (said[part] || off >= len)
			continue;
		said[part] = true;
		off += snprintf(why + off, len - off, "%s%s: %s", off ? "; " : "", part_names[part], p->why[part]);
	}
	if (m == SOCKLB_TERM_METHODS)
		return SOCKLB_TERM_OFF;
	if (!off)
		snprintf(why, len, "every part it needs works here");
	return (enum socklb_term_method)m;
}

/* ---- probe ---------------------------------------------------------------------------------- */

int socklb_term_probe(const char *root, struct socklb_term_probe *p)
{
	enum socklb_term_part part;
	struct term_pods pods;
	struct term_bpf *b;
	int i;

	memset(p, 0, sizeof(*p));
	/* A part that does not load is a result here, not a problem: libbpf's complaints are debug detail. */
	socklb_log_libbpf_quiet(true);
	for (i = 0; i < SOCKLB_TERM_PARTS; i++) {
		part = (enum socklb_term_part)i;
		if (part_progs[part]) {
			p->err[part] =
				term_bpf_open(root, part_progs[part], true, &b, p->why[part], sizeof(p->why[part]));
			term_bpf_close(b);
		}
	}
	socklb_log_libbpf_quiet(false);

	part = SOCKLB_TERM_PART_NETNS;
	p->err[part] = term_pods_init(&pods, root, p->why[part], sizeof(p->why[part]));
	if (!p->err[part])
		p->err[part] = term_netns_probe(&pods, p->why[part], sizeof(p->why[part]));
	term_pods_release(&pods);

	part = SOCKLB_TERM_PART_DIAG;
	p->err[part] = term_diag_probe(p->why[part], sizeof(p->why[part]));

	for (i = 0; i < SOCKLB_TERM_PARTS; i++)
		if (p->err[i] == -ENOMEM)
			return -ENOMEM;
	return 0;
}

/* ---- open ----------------------------------------------------------------------------------- */

void socklb_term_close(struct socklb_term *t)
{
	if (!t)
		return;
	term_bpf_close(t->bpf);
	term_pods_release(&t->pods);
	free(t);
}

int socklb_term_open(const char *root, enum socklb_term_method m, struct socklb_term **out, char *why, size_t len)
{
	struct socklb_term *t;
	int err;

	*out = NULL;
	if (m == SOCKLB_TERM_OFF || m >= SOCKLB_TERM_METHODS) {
		snprintf(why, len, "socket termination method %d: not a method", (int)m);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->method = m;
	err = term_pods_init(&t->pods, root, why, len);
	if (!err)
		err = term_bpf_open(root, methods[m].progs, false, &t->bpf, why, len);
	if (err) {
		socklb_term_close(t);
		return err;
	}
	*out = t;
	return 0;
}

enum socklb_term_method socklb_term_method(const struct socklb_term *t)
{
	return t->method;
}

/* ---- a run ------------------------------------------------------------------------------------ */

void socklb_term_summary(const struct socklb_term_target *targets, const struct socklb_term_result *res, size_t n,
			 char *buf, size_t len)
{
	char ep[SOCKLB_ENDPOINT_STRLEN];
	size_t i, j, off = 0;
	__u32 total;
	bool listed;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		if (!res[i].destroyed && !res[i].failed)
			continue;
		/* each service once, at its first target with sockets */
		listed = false;
		for (j = 0; j < i && !listed; j++)
			listed = targets[j].svc_id == targets[i].svc_id && (res[j].destroyed || res[j].failed);
		if (listed)
			continue;
		total = 0;
		for (j = i; j < n; j++)
			if (targets[j].svc_id == targets[i].svc_id)
				total += res[j].destroyed;
		off += snprintf(buf + off, len - off, "%sservice %u: %u (", off ? ", " : "", targets[i].svc_id, total);
		for (j = i; j < n && off < len; j++) {
			if (targets[j].svc_id != targets[i].svc_id || (!res[j].destroyed && !res[j].failed))
				continue;
			socklb_endpoint_format(targets[j].backend, targets[j].backend_port, ep, sizeof(ep));
			off += snprintf(buf + off, len - off, "%s%s %u", buf[off - 1] == '(' ? "" : ", ", ep,
					res[j].destroyed);
			if (res[j].failed && off < len)
				off += snprintf(buf + off, len - off, " + %u failed", res[j].failed);
		}
		if (off < len)
			off += snprintf(buf + off, len - off, ")");
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

struct destroy_ctx {
	const struct socklb_term *t;
	const struct term_socks *found; /* what the finder named, with identities from the records finder */
	struct socklb_term_result *res;
	size_t n;
};

static int destroy_in_netns(const struct term_netns *ns, void *arg, char *why, size_t len)
{
	const struct destroy_ctx *c = arg;
	unsigned int progs = methods[c->t->method].progs;
	struct term_socks here = { 0 };
	int err;

	if (progs & TERM_BPF_DESTROY)
		return term_bpf_destroy(c->t->bpf, ns->protocols, c->res, c->n, why, len);
	if (progs & TERM_BPF_RECORDS)
		return term_diag_destroy(c->found, (__u32)ns->ino, c->res, c->n, why, len);
	err = term_bpf_ids(c->t->bpf, ns->protocols, &here, why, len);
	if (!err)
		err = term_diag_destroy(&here, (__u32)ns->ino, c->res, c->n, why, len);
	term_socks_free(&here);
	return err;
}

/* One batch: the doomed set d is in the maps. Find the namespaces, open them, destroy in each. */
static int term_batch(struct socklb_term *t, const struct term_doomed *d, struct socklb_term_result *res, size_t n,
		      size_t *walked, char *why, size_t len)
{
	bool every_pod = !(methods[t->method].progs & (TERM_BPF_RECORDS | TERM_BPF_TASKS));
	struct term_socks found = { 0 };
	struct destroy_ctx c = { .t = t, .found = &found, .res = res, .n = n };
	struct term_netns_list ns = { 0 };
	size_t i;
	int err = 0;

	if (!every_pod) {
		err = term_bpf_find(t->bpf, &ns, &found, why, len);
		if (err || !ns.n)
			goto out; /* nothing doomed anywhere: no namespace to walk */
	}
	err = term_pods_open(&t->pods, &ns, every_pod ? d->protocols : 0, why, len);
	if (err)
		goto out;
	for (i = 0; i < ns.n; i++)
		if (ns.e[i].fd < 0)
			pr_debug("socket termination: a socket to a removed backend in network namespace %lu, which "
				 "holds no attached pod's process: left alone",
				 (unsigned long)ns.e[i].ino);
	*walked += ns.opened;
	err = term_netns_each(&ns, destroy_in_netns, &c, why, len);
out:
	term_netns_list_free(&ns);
	term_socks_free(&found);
	return err;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void term_log(const struct socklb_term *t, const struct socklb_term_target *targets,
		     const struct socklb_term_result *res, size_t n, size_t walked, double ms)
{
	__u32 destroyed = 0, failed = 0;
	char summary[1024];
	size_t i;

	for (i = 0; i < n; i++) {
		destroyed += res[i].destroyed;
		failed += res[i].failed;
	}
	if (!destroyed && !failed && !socklb_log_enabled(SOCKLB_LOG_DEBUG))
		return;
	socklb_term_summary(targets, res, n, summary, sizeof(summary));
	socklb_log(destroyed || failed ? SOCKLB_LOG_INFO : SOCKLB_LOG_DEBUG,
		   "socket termination: %u sockets destroyed (%u failed) for %zu removed backends, %zu network "
		   "namespaces walked (%s), %.1f ms: %s",
		   destroyed, failed, n, walked, methods[t->method].name, ms, summary);
}

int socklb_term_run(struct socklb_term *t, const struct socklb_term_target *targets, size_t n,
		    struct socklb_term_result *res, char *why, size_t len)
{
	struct socklb_term_result *counts = res;
	char ep[SOCKLB_ENDPOINT_STRLEN], batch_why[SOCKLB_TERM_WHY_LEN];
	struct socklb_term_key key;
	struct term_doomed d;
	struct timespec start;
	size_t i, from, to, walked = 0;
	int err = 0, batch_err;

	for (i = 0; i < n; i++) {
		if (socklb_term_key_build(&targets[i], &key)) {
			socklb_endpoint_format(targets[i].backend, targets[i].backend_port, ep, sizeof(ep));
			snprintf(why, len, "socket termination target %zu (service %u, backend %s): bad protocols 0x%x",
				 i, targets[i].svc_id, ep, targets[i].protocols);
			return -EINVAL;
		}
	}
	if (!n)
		return 0;
	if (!counts) {
		counts = calloc(n, sizeof(*counts));
		if (!counts)
			return -ENOMEM;
	} else {
		memset(counts, 0, n * sizeof(*counts));
	}
	clock_gettime(CLOCK_MONOTONIC, &start);

	for (from = 0; from < n; from = to) {
		to = n - from > SOCKLB_TERM_MAX_TARGETS ? from + SOCKLB_TERM_MAX_TARGETS : n;
		batch_err = term_doomed_build(&d, targets, from, to);
		if (batch_err)
			term_fail(batch_why, sizeof(batch_why), batch_err, "building the doomed set");
		else
			batch_err = term_bpf_fill(t->bpf, &d, batch_why, sizeof(batch_why));
		/* A batch or namespace that fails does not spare the others: go on, keep the first error. */
		if (!batch_err)
			batch_err = term_batch(t, &d, counts, n, &walked, batch_why, sizeof(batch_why));
		term_bpf_clear(t->bpf, &d);
		term_doomed_free(&d);
		if (batch_err && !err) {
			err = batch_err;
			snprintf(why, len, "%s", batch_why);
		}
	}
	term_log(t, targets, counts, n, walked, elapsed_ms(&start));
	if (counts != res)
		free(counts);
	return err;
}
