// SPDX-License-Identifier: Apache-2.0
/*
 * socklb-syncd: Services and EndpointSlices (from the API server or a JSON
 * file) into the pinned maps, `socklb-syncd dump` to read them back, and
 * `socklb-syncd status` to see what the node allows.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "attach_failures.h"
#include "change_tracker.h"
#include "cli.h"
#include "cni_install.h"
#include "cni_watch.h"
#include "datapath.h"
#include "dump.h"
#include "file_source.h"
#include "kube.h"
#include "lbmap.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "service_metrics.h"
#include "status.h"
#include "store.h"
#include "syncer.h"
#include "terminator.h"
#include "trace_cmd.h"

/* After a change, wait this long for more before syncing: a burst becomes one pass. */
#define BATCH_QUIET_MS 2
#define BATCH_MAX_MS 50
/*
 * A file source's load is synced once all of it is in the store, so a new
 * Service and its EndpointSlices reach the maps in the same pass (never a
 * frontend without its backends in between). Applying even a whole
 * 10,000-service file takes well under this; it only bounds a stuck load.
 */
#define FILE_LOAD_MAX_MS 5000
/* Failed writes (a full map) are tried again this often. */
#define RETRY_MS 10000
/* --once with the API server: how long the initial lists may take. */
#define ONCE_LIST_TIMEOUT_MS 60000

struct daemon {
	struct syncd_options *opts;
	struct store *store;
	struct metrics *metrics;
	struct change_tracker *changes;
	struct socklb_maps maps;
	bool maps_open;
	struct syncer *syncer;
	struct terminator *term; /* NULL: sockets are not terminated */
	enum socklb_term_method term_method; /* what term uses; SOCKLB_TERM_OFF without */
	struct file_source *file;
	struct kube_source *kube;
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
		d->kube ? kube_source_restarts(d->kube) : 0UL);
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
	int err = socklb_attach_failures_read(path, &r);

	/* No record: the plugin never failed on this node since boot. */
	if (err) {
		if (err != -ENOENT)
			pr_debug("metrics: cannot read the attach-failure record %s: %s", path, strerror(-err));
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

static int start_source(struct daemon *d)
{
	const struct syncd_options *o = d->opts;
	struct kube_source_config kc = {
		.api_server = o->api_server,
		.kubeconfig = o->kubeconfig,
		.context = o->context,
		.node_name = o->node_name,
		.service_proxy_name = o->service_proxy_name,
	};
	int err;

	if (o->source_kind == SOURCE_KUBERNETES) {
		err = kube_source_start(&kc, d->store, &d->kube);
		if (err)
			pr_err("cannot start the Kubernetes source: %s", strerror(-err));
		return err;
	}
	err = file_source_new(o->file_path, d->store, d->metrics, &d->file);
	if (err)
		return err;
	err = file_source_load(d->file);
	/* A daemon waits for the file to be fixed; --once has nothing to sync. */
	if (err && o->once)
		return err;
	return o->once ? 0 : file_source_watch(d->file);
}

static int start_metrics(struct daemon *d)
{
	int err;

	if (d->opts->once || !*d->opts->metrics_addr)
		return 0;
	d->service_metrics = service_metrics_new(d->opts->bpffs_root);
	if (!d->service_metrics)
		return -ENOMEM;
	err = metrics_add_collector(d->metrics, service_metrics_collect, d->service_metrics);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_watch_restarts, d);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_termination, d);
	if (!err)
		err = metrics_add_collector(d->metrics, collect_attach_failures, d);
	if (!err)
		err = metrics_add_collector(d->metrics, change_tracker_collect, d->changes);
	if (!err)
		err = metrics_server_start(d->opts->metrics_addr, d->metrics, &d->server);
	return err;
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

/*
 * Let a burst of changes land so that it costs one pass, without holding a
 * lone change back. A file load writes everything it changed at once: the
 * burst ends when the load is done writing, no quiet period needed.
 */
static void settle(struct daemon *d)
{
	struct pollfd pfd = { .fd = store_event_fd(d->store), .events = POLLIN };

	if (d->file) {
		file_source_wait_written(d->file, FILE_LOAD_MAX_MS);
		store_drain_events(d->store);
		return;
	}
	for (int waited = 0; waited < BATCH_MAX_MS; waited += BATCH_QUIET_MS) {
		store_drain_events(d->store);
		if (poll(&pfd, 1, BATCH_QUIET_MS) <= 0)
			break;
	}
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

static int say_invalid(const char *service, const struct invalid_object *o, void *ctx)
{
	char why[INVALID_NAME_LEN + INVALID_WHY_LEN + 32];

	(void)ctx;
	invalid_format(o, why, sizeof(why));
	if (o->kind == K8S_SERVICE)
		pr_err("--once: %s", why);
	else
		pr_err("--once: %s (Service %s)", why, service);
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

static void stop(struct daemon *d)
{
	cni_watch_stop(d->cni_watch);
	/* Sources first: nothing may write to the store while it goes away. */
	kube_source_stop(d->kube);
	file_source_free(d->file);
	metrics_server_stop(d->server);
	service_metrics_free(d->service_metrics);
	syncer_free(d->syncer);
	terminator_free(d->term);
	if (d->maps_open)
		socklb_maps_close(&d->maps);
	store_free(d->store);
	change_tracker_free(d->changes);
	metrics_free(d->metrics);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
}

static int check_bpffs_root(const char *root)
{
	int err = socklb_bpffs_check(root);

	if (err == -ENOTSUP)
		pr_err("--bpffs-root %s is not on a bpffs mount: mount one (mount -t bpf bpf /sys/fs/bpf) or choose "
		       "a directory on one",
		       root);
	else if (err)
		pr_err("--bpffs-root %s: %s", root, strerror(-err));
	return err;
}

static int run(struct syncd_options *o)
{
	struct translate_config tc = { .node_name = o->node_name, .service_proxy_name = o->service_proxy_name };
	struct daemon d = { .opts = o, .signal_fd = -1 };
	struct socklb_map_sizes sizes = {
		.max_services = o->max_services ? o->max_services : SOCKLB_DEFAULT_MAX_SERVICES,
		.max_backends = o->max_backends ? o->max_backends : SOCKLB_DEFAULT_MAX_BACKENDS,
		.max_affinity = SOCKLB_DEFAULT_MAX_AFFINITY,
	};
	sigset_t mask;
	int err;

	/* Blocked before any thread starts, so every thread inherits the mask and the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.store = store_new();
	d.metrics = metrics_new();
	d.changes = change_tracker_new((double)time(NULL));
	if (d.signal_fd < 0 || !d.store || !d.metrics || !d.changes) {
		err = -ENOMEM;
		pr_err("cannot set up the daemon: %s", strerror(errno));
		goto out;
	}
	store_set_observer(d.store, change_tracker_observe, d.changes);
	/* Nothing is created or adopted under the root before the root and the source are known to be usable. */
	err = check_bpffs_root(o->bpffs_root);
	if (!err && !o->once)
		status_log(o->bpffs_root);
	if (!err)
		err = start_source(&d);
	if (err)
		goto out;
	err = socklb_maps_open(o->bpffs_root, &sizes, &d.maps);
	if (err) {
		pr_err("cannot open or create the maps under %s: %s", o->bpffs_root, strerror(-err));
		goto out;
	}
	d.maps_open = true;
	/* Sizes are fixed by whoever created the maps first (this daemon or the plugin). */
	if ((o->max_services && d.maps.max_services != o->max_services) ||
	    (o->max_backends && d.maps.max_backends != o->max_backends))
		pr_warn("the maps under %s hold %u frontends and %u backends; --max-services and --max-backends "
			"only size maps this daemon creates",
			o->bpffs_root, d.maps.max_services, d.maps.max_backends);
	d.syncer = syncer_new(d.store, &d.maps, &tc, d.metrics);
	if (!d.syncer) {
		err = -ENOMEM;
		goto out;
	}
	syncer_set_change_tracker(d.syncer, d.changes);
	start_termination(&d);
	err = syncer_adopt(d.syncer);
	if (!err)
		err = start_metrics(&d);
	if (!err && o->cni_conf_dir && !o->once) {
		struct cni_install_opts co;

		cni_install_opts_init(&co);
		co.conf_dir = o->cni_conf_dir;
		co.entry_config = o->cni_config;
		err = cni_watch_start(&co, &d.cni_watch);
	}
	if (err)
		goto out;
	pr_info("node %s, source %s, maps under %s", o->node_name, o->source, o->bpffs_root);
	err = o->once ? run_once(&d) : run_loop(&d);
out:
	stop(&d);
	return err;
}

int main(int argc, char **argv)
{
	char err_msg[256], hostname[HOST_NAME_MAX + 1];
	struct syncd_options opts;
	int err;

	if (argc > 1 && strcmp(argv[1], "install-cni") == 0)
		return cni_install_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "uninstall-cni") == 0)
		return cni_uninstall_main(argc - 1, argv + 1);
	if (cli_parse(argc, argv, &opts, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "socklb-syncd: %s\n\n", err_msg);
		cli_usage(stderr);
		return 2;
	}
	if (opts.help) {
		cli_usage(stdout);
		return 0;
	}
	if (opts.command == SYNCD_STATUS) {
		/* Its -v is the probes' own words; a failed probe's libbpf chatter would only repeat them. */
		socklb_log_init("socklb-syncd", SOCKLB_LOG_WARN, NULL, true);
		return status_main(opts.bpffs_root, opts.json, opts.verbose, stdout);
	}
	socklb_log_init("socklb-syncd", opts.verbose ? SOCKLB_LOG_DEBUG : SOCKLB_LOG_INFO, NULL, true);
	if (opts.command == SYNCD_DUMP)
		return dump_maps(opts.bpffs_root, opts.json, stdout) ? 1 : 0;
	if (opts.command == SYNCD_TRACE) {
		struct trace_config tc = { .bpffs_root = opts.bpffs_root,
					   .filter = opts.trace_filter,
					   .json = opts.json,
					   .count = opts.trace_count };

		return trace_run(&tc, stdout) ? 1 : 0;
	}
	if (!opts.node_name) {
		if (gethostname(hostname, sizeof(hostname))) {
			pr_err("cannot read the hostname for --node-name: %s", strerror(errno));
			return 1;
		}
		hostname[HOST_NAME_MAX] = '\0';
		/* kubelet registers the Node under the lowercased hostname */
		for (char *c = hostname; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		opts.node_name = hostname;
	}
	err = run(&opts);
	return err ? 1 : 0;
}
