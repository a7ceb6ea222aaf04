// SPDX-License-Identifier: Apache-2.0
/* The daemon: see daemon.h. */
#include "daemon.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "attach_failures.h"
#include "change_tracker.h"
#include "cni_watch.h"
#include "datapath.h"
#include "lbmap.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "service_metrics.h"
#include "source.h"
#include "status.h"
#include "store.h"
#include "syncer.h"
#include "terminator.h"

/* Failed writes (a full map) are tried again this often. */
#define RETRY_MS 10000
/* --once with the API server: how long the initial lists may take. */
#define ONCE_LIST_TIMEOUT_MS 60000
/*
 * Allocations this large are mapped apart, and free heap beyond this at its
 * top goes back (glibc's defaults). Larger values keep that much free memory
 * per malloc arena, one per thread that allocates: 3 MiB more RSS with 4 MiB
 * and the API source's watchers. What a reload of a large file needs again is
 * kept by the file source itself.
 */
#define MALLOC_RETURN_BYTES (128 * 1024)

struct daemon {
	struct syncd_options *opts;
	struct store *store;
	struct metrics *metrics;
	struct change_tracker *changes; /* NULL: /metrics is not served */
	struct socklb_maps maps;
	bool maps_open;
	struct syncer *syncer;
	struct terminator *term; /* NULL: sockets are not terminated */
	enum socklb_term_method term_method; /* what term uses; SOCKLB_TERM_OFF without */
	struct source *source;
	struct service_metrics *service_metrics;
	struct metrics_server *server;
	struct cni_watch *cni_watch;
	int signal_fd;
};

static void collect_watch_restarts(FILE *out, void *ctx)
{
	const struct daemon *d = ctx;

	fprintf(out,
		"# HELP socklb_watch_restarts_total Watches of the API server restarted after the first one.\n"
		"# TYPE socklb_watch_restarts_total counter\nsocklb_watch_restarts_total %lu\n",
		source_restarts(d->source));
}

static void collect_termination(FILE *out, void *ctx)
{
	struct daemon *d = ctx;

	fprintf(out,
		"# HELP socklb_socket_termination_enabled 1 when sockets connected to a removed backend are "
		"destroyed.\n"
		"# TYPE socklb_socket_termination_enabled gauge\nsocklb_socket_termination_enabled %d\n"
		"# HELP socklb_termination_method The socket termination method in use (chosen at start).\n"
		"# TYPE socklb_termination_method gauge\nsocklb_termination_method{method=\"%s\"} 1\n",
		d->term ? 1 : 0, socklb_term_method_name(d->term_method));
	if (d->term)
		terminator_metrics_collect(out, d->term);
}

/* The CNI plugin counts the opted-in pods it could not attach; the daemon reports them. */
static void collect_attach_failures(FILE *out, void *ctx)
{
	const struct daemon *d = ctx;
	const char *path = d->opts->attach_failures_file;
	char pod[2 * SOCKLB_ATTACH_FAILURE_POD_LEN], message[2 * SOCKLB_ATTACH_FAILURE_ERROR_LEN];
	struct socklb_attach_failures r;
	struct socklb_err why;
	int err = socklb_attach_failures_read(path, &r, &why);

	/* No record: the plugin never failed on this node since boot. */
	if (err) {
		if (err != -ENOENT)
			pr_debug("metrics: the attach-failure record: %s", why.msg);
		memset(&r, 0, sizeof(r));
	}
	metrics_escape_label(r.last_pod, pod, sizeof(pod));
	metrics_escape_label(r.last_error, message, sizeof(message));
	fprintf(out,
		"# HELP socklb_pod_attach_failures_total Opted-in pods the CNI plugin could not attach, by the "
		"failurePolicy applied: Ignore (the pod started without socklb) or Fail (its ADD returned the error).\n"
		"# TYPE socklb_pod_attach_failures_total counter\n"
		"socklb_pod_attach_failures_total{policy=\"Ignore\"} %llu\n"
		"socklb_pod_attach_failures_total{policy=\"Fail\"} %llu\n"
		"# HELP socklb_pod_attach_last_failure The CNI plugin's last attach failure (pod and message "
		"labels); value: its Unix time, 0 when none.\n"
		"# TYPE socklb_pod_attach_last_failure gauge\n"
		"socklb_pod_attach_last_failure{pod=\"%s\",message=\"%s\"} %.3f\n",
		r.ignored, r.failed, pod, message, r.last_time);
}

/* The method: --termination-method, or the cheapest this kernel allows (probed: loaded, not guessed). */
static enum socklb_term_method termination_method(const struct syncd_options *o, char *why, size_t len)
{
	struct socklb_term_probe probe;
	int err;

	if (!o->termination_auto)
		return terminator_method(false, o->termination_method, NULL, why, len);
	err = socklb_term_probe(o->bpffs_root, &probe);
	if (err) {
		snprintf(why, len, "probing what this kernel allows: %s", strerror(-err));
		return SOCKLB_TERM_OFF;
	}
	return terminator_method(true, SOCKLB_TERM_OFF, &probe, why, len);
}

/*
 * The running daemon destroys the sockets still connected to backends it
 * removes; --once syncs and exits, terminating nothing. Without the means (an
 * old kernel, missing privileges) Services still work: it runs without, and
 * says so once.
 */
static void start_termination(struct daemon *d)
{
	const struct syncd_options *o = d->opts;
	struct terminator_config cfg = { .tcp = o->terminate_tcp, .grace_ms = o->terminate_grace_ms };
	char why[SOCKLB_TERM_WHY_LEN], failed[SOCKLB_TERM_WHY_LEN];
	int err;

	if (o->once)
		return;
	cfg.method = termination_method(o, why, sizeof(why));
	if (cfg.method != SOCKLB_TERM_OFF) {
		err = terminator_new(o->bpffs_root, &cfg, &d->term, failed, sizeof(failed));
		if (err) {
			pr_err("socket termination: off (%s: %s): sockets connected to a removed backend keep it until "
			       "the application reconnects",
			       why, failed);
			return;
		}
	}
	d->term_method = cfg.method;
	if (!d->term) {
		socklb_log(o->termination_auto ? SOCKLB_LOG_WARN : SOCKLB_LOG_INFO,
			   "socket termination: off (%s): sockets connected to a removed backend keep it until the "
			   "application reconnects",
			   why);
		return;
	}
	syncer_set_terminator(d->syncer, d->term);
	pr_info("socket termination: using %s (%s): connected UDP%s sockets of removed backends, grace period %u ms",
		socklb_term_method_name(cfg.method), why, o->terminate_tcp ? " and TCP" : "", o->terminate_grace_ms);
}

static int start_source(struct daemon *d, struct socklb_err *e)
{
	struct source_config sc;

	cli_source_config(d->opts, &sc);
	return source_start(&sc, d->store, d->metrics, &d->source, e);
}

static int start_metrics(struct daemon *d, struct socklb_err *e)
{
	int err;

	if (d->opts->once || !*d->opts->metrics_addr)
		return 0;
	d->service_metrics = service_metrics_new(d->opts->bpffs_root);
	if (!d->service_metrics)
		return socklb_fail(e, -ENOMEM, "out of memory setting up the metrics");
	err = metrics_add_collector(d->metrics, service_metrics_collect, d->service_metrics);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_watch_restarts, d);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_termination, d);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_attach_failures, d);
	if (!err)
		err = metrics_add_collector(d->metrics, change_tracker_collect, d->changes);
	if (err)
		return socklb_fail(e, err, "setting up the metrics: %s", strerror(-err));
	return metrics_server_start(d->opts->metrics_addr, d->metrics, &d->server, e);
}

static void log_pass(const struct sync_result *r)
{
	char term[64] = "";

	if (r->terminate_seconds > 0)
		snprintf(term, sizeof(term), ", then socket termination in %.3f ms", r->terminate_seconds * 1e3);
	if (r->upserts || r->deletes || r->errors)
		pr_info("sync: %zu frontends written, %zu deleted, %zu failed (%zu services translated) in %.3f ms%s",
			r->upserts, r->deletes, r->errors, r->retranslated, r->seconds * 1e3, term);
	else
		pr_debug("sync: nothing to write (%zu services translated) in %.3f ms", r->retranslated,
			 r->seconds * 1e3);
}

/* 1 when a signal asked us to stop, 0 on timeout or store change. */
static int wait_for(struct daemon *d, int timeout_ms, bool *changed)
{
	struct pollfd pfd[2] = { { .fd = d->signal_fd, .events = POLLIN },
				 { .fd = store_event_fd(d->store), .events = POLLIN } };
	struct signalfd_siginfo si;
	int ret = poll(pfd, 2, timeout_ms);

	*changed = false;
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[0].revents & POLLIN) {
		if (read(d->signal_fd, &si, sizeof(si)) == sizeof(si))
			pr_info("received %s: stopping; the pinned maps stay as they are",
				strsignal((int)si.ssi_signo));
		return 1;
	}
	*changed = (pfd[1].revents & POLLIN) != 0;
	return 0;
}

/* Let a burst of changes land so that it costs one pass, without holding a lone change back. */
static void settle(struct daemon *d)
{
	source_wait_written(d->source);
	store_drain_events(d->store);
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until the next retry of failed writes (retry_at, -1: none) or the end of a grace period; -1: none. */
static int next_timeout_ms(const struct daemon *d, long long retry_at)
{
	long long grace = syncer_next_termination_ms(d->syncer);
	long long retry = retry_at < 0 ? -1 : retry_at - monotonic_ms();
	long long t;

	if (retry_at >= 0 && retry < 0)
		retry = 0;
	t = grace < 0 ? retry : retry < 0 ? grace : grace < retry ? grace : retry;
	return t > INT_MAX ? INT_MAX : (int)t;
}

static int run_loop(struct daemon *d)
{
	long long retry_at = -1;
	struct sync_result r;
	bool changed;
	int ret, err;

	/* Adopted state may already need writes (the file was loaded before we got here). */
	changed = true;
	for (;;) {
		if (changed) {
			settle(d);
			err = syncer_sync(d->syncer, &r);
			if (err)
				pr_err("sync pass failed: %s; retrying on the next change", strerror(-err));
			else
				log_pass(&r);
			retry_at = syncer_pending_retries(d->syncer) ? monotonic_ms() + RETRY_MS : -1;
		}
		ret = wait_for(d, next_timeout_ms(d, retry_at), &changed);
		if (ret)
			return ret < 0 ? ret : 0;
		if (changed)
			continue;
		/* A timeout: a held backend's grace period ended, or failed writes are due for a retry. */
		if (syncer_next_termination_ms(d->syncer) == 0)
			syncer_terminate_due(d->syncer);
		changed = retry_at >= 0 && monotonic_ms() >= retry_at;
	}
}

static int say_invalid(const struct service_key *service, const struct invalid_object *o, void *ctx)
{
	char why[INVALID_NAME_LEN + INVALID_WHY_LEN + 32];

	(void)ctx;
	invalid_format(o, why, sizeof(why));
	if (o->kind == K8S_SERVICE)
		pr_err("--once: %s", why);
	else
		pr_err("--once: %s (Service %s/%s)", why, service->ns, service->name);
	return 0;
}

static int run_once(struct daemon *d)
{
	struct timespec start, now;
	struct sync_result r;
	bool changed;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!store_complete(d->store)) {
		long waited;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= ONCE_LIST_TIMEOUT_MS) {
			pr_err("--once: the initial lists did not complete within %d s", ONCE_LIST_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		err = wait_for(d, (int)(ONCE_LIST_TIMEOUT_MS - waited), &changed);
		if (err)
			return err < 0 ? err : -EINTR;
		store_drain_events(d->store);
	}
	err = syncer_sync(d->syncer, &r);
	if (err) {
		pr_err("--once: sync failed: %s", strerror(-err));
		return err;
	}
	log_pass(&r);
	if (r.invalid) {
		syncer_invalid_foreach(d->syncer, say_invalid, NULL);
		pr_err("--once: %zu invalid objects; the maps keep the %zu pinned frontends their Services may own",
		       r.invalid, r.kept);
		err = -EINVAL;
	}
	if (!syncer_converged(d->syncer)) {
		pr_err("--once: %zu writes failed; the maps are not fully in sync", r.errors);
		err = -EIO;
	}
	return err;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static void stop(struct daemon *d)
{
	/*
	 * --once leaves the objects, the desired state and what it wrote to the
	 * exit: freeing them one by one is 5 % of a run of 100,000 services.
	 * A sanitizer build frees them, so that its leak check sees the rest.
	 */
	bool keep = d->opts->once && !SANITIZED;

	cni_watch_stop(d->cni_watch);
	/* The source first: nothing may write to the store while it goes away. */
	source_free(d->source);
	metrics_server_stop(d->server);
	service_metrics_free(d->service_metrics);
	if (!keep)
		syncer_free(d->syncer);
	terminator_free(d->term);
	if (d->maps_open)
		socklb_maps_close(&d->maps);
	if (!keep)
		store_free(d->store);
	change_tracker_free(d->changes);
	metrics_free(d->metrics);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
}

/* The maps, created unpinned while the source loads when none is pinned yet (socklb_maps_create_ahead). */
struct maps_ahead {
	const struct socklb_map_sizes *sizes;
	struct socklb_maps_ahead *maps;
	pthread_t thread;
	bool started;
};

static void *create_ahead(void *arg)
{
	struct maps_ahead *a = arg;

	/* A failure is socklb_maps_open's to report: it tries again. */
	if (socklb_maps_create_ahead(a->sizes, &a->maps))
		a->maps = NULL;
	return NULL;
}

static void maps_ahead_start(struct maps_ahead *a, const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, SOCKLB_MAP_SERVICES);
	/* A restart finds them pinned: nothing to create. */
	if (access(path, F_OK) == 0)
		return;
	a->started = pthread_create(&a->thread, NULL, create_ahead, a) == 0;
}

static struct socklb_maps_ahead *maps_ahead_take(struct maps_ahead *a)
{
	struct socklb_maps_ahead *maps;

	if (!a->started)
		return NULL;
	pthread_join(a->thread, NULL);
	a->started = false;
	maps = a->maps;
	a->maps = NULL;
	return maps;
}

static int check_bpffs_root(const char *root, struct socklb_err *e)
{
	int err = socklb_bpffs_check(root);

	if (err == -ENOTSUP)
		return socklb_fail(
			e, err,
			"--bpffs-root %s is not on a bpffs mount: mount one (mount -t bpf bpf /sys/fs/bpf) or "
			"choose a directory on one",
			root);
	if (err)
		return socklb_fail(e, err, "--bpffs-root %s: %s", root, strerror(-err));
	return 0;
}

static int start_cni_watch(struct daemon *d, struct socklb_err *e)
{
	struct cni_install_opts co;

	if (!d->opts->cni_conf_dir || d->opts->once)
		return 0;
	cni_install_opts_init(&co);
	co.conf_dir = d->opts->cni_conf_dir;
	co.entry_config = d->opts->cni_entry_config;
	return cni_watch_start(&co, &d->cni_watch, e);
}

/* kubelet registers the Node under the lowercased hostname. */
static int node_name_default(char *buf, size_t len, struct socklb_err *e)
{
	if (gethostname(buf, len))
		return socklb_fail(e, socklb_errno(), "cannot read the hostname for --node-name: %s", strerror(errno));
	buf[len - 1] = '\0';
	for (char *c = buf; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

int daemon_main(struct syncd_options *o)
{
	struct translate_config tc = { .node_name = o->node_name, .service_proxy_name = o->service_proxy_name };
	struct daemon d = { .opts = o, .signal_fd = -1 };
	char hostname[HOST_NAME_MAX + 1];
	struct socklb_err e;
	struct socklb_map_sizes sizes = {
		.max_services = o->max_services ? o->max_services : SOCKLB_DEFAULT_MAX_SERVICES,
		.max_backends = o->max_backends ? o->max_backends : SOCKLB_DEFAULT_MAX_BACKENDS,
		.max_affinity = SOCKLB_DEFAULT_MAX_AFFINITY,
	};
	struct maps_ahead ahead = { .sizes = &sizes };
	bool served = !o->once && *o->metrics_addr;
	struct socklb_maps_ahead *made;
	sigset_t mask;
	int err;

	socklb_err_clear(&e);
	/*
	 * What the daemon frees goes back to the system: glibc would otherwise
	 * raise both thresholds after the first large buffer it frees (libbpf's
	 * copy of the kernel's BTF, a file source's text) and keep megabytes of
	 * free heap for the daemon's whole life.
	 */
	mallopt(M_MMAP_THRESHOLD, MALLOC_RETURN_BYTES);
	mallopt(M_TRIM_THRESHOLD, MALLOC_RETURN_BYTES);
	if (!o->node_name) {
		err = node_name_default(hostname, sizeof(hostname), &e);
		if (err) {
			pr_err("%s", e.msg);
			return err;
		}
		o->node_name = hostname;
		tc.node_name = hostname;
	}
	/* Blocked before any thread starts, so every thread inherits the mask and the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.store = store_new();
	d.metrics = metrics_new();
	/* Counting every object a source delivers is for /metrics alone: --once or without it, no one reads it. */
	if (served)
		d.changes = change_tracker_new((double)time(NULL));
	if (d.signal_fd < 0 || !d.store || !d.metrics || (served && !d.changes)) {
		err = socklb_fail(&e, socklb_errno(), "cannot set up the daemon: %s", strerror(errno));
		goto out;
	}
	if (d.changes)
		store_set_observer(d.store, change_tracker_observe, d.changes);
	/* Nothing is created or adopted under the root before the root and the source are known to be usable. */
	err = check_bpffs_root(o->bpffs_root, &e);
	if (!err && !o->once)
		status_log(o->bpffs_root);
	if (!err)
		maps_ahead_start(&ahead, o->bpffs_root);
	if (!err)
		err = start_source(&d, &e);
	made = maps_ahead_take(&ahead);
	if (!err)
		err = socklb_maps_open_ahead(o->bpffs_root, &sizes, made, &d.maps, &e);
	socklb_maps_ahead_free(made);
	if (err)
		goto out;
	d.maps_open = true;
	/* Sizes are fixed by whoever created the maps first (this daemon or the plugin). */
	if ((o->max_services && d.maps.max_services != o->max_services) ||
	    (o->max_backends && d.maps.max_backends != o->max_backends))
		pr_warn("the maps under %s hold %u frontends and %u backends; --max-services and --max-backends "
			"only size maps this daemon creates",
			o->bpffs_root, d.maps.max_services, d.maps.max_backends);
	d.syncer = syncer_new(d.store, &d.maps, &tc, d.metrics);
	if (!d.syncer) {
		err = socklb_fail(&e, -ENOMEM, "out of memory setting up the syncer");
		goto out;
	}
	syncer_set_change_tracker(d.syncer, d.changes);
	start_termination(&d);
	/* syncer_adopt() says itself what it could not read. */
	err = syncer_adopt(d.syncer);
	if (!err)
		err = start_metrics(&d, &e);
	if (!err)
		err = start_cni_watch(&d, &e);
	if (err)
		goto out;
	pr_info("node %s, source %s, maps under %s", o->node_name, o->source, o->bpffs_root);
	err = o->once ? run_once(&d) : run_loop(&d);
out:
	if (err && e.code)
		pr_err("%s", e.msg);
	stop(&d);
	return err;
}
