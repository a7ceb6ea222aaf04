// SPDX-License-Identifier: Apache-2.0
#include "trace_cmd.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datapath.h"
#include "log.h"
#include "pod_resolver.h"
#include "terminate.h"
#include "trace.h"

/* Losses are reported at most this often, on stderr. */
#define LOST_REPORT_NS 1000000000ULL
#define POLL_MS 200

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct keepalive {
	struct socklb_trace *t;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

/*
 * Its own thread, so that a reader stalled on a slow stdout keeps tracing on
 * (the ring buffer fills and losses are counted) instead of letting it lapse
 * unnoticed.
 */
static void *keepalive_thread(void *arg)
{
	struct keepalive *k = arg;
	struct timespec until;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		socklb_trace_keepalive(k->t, TRACE_TTL_MS);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += TRACE_KEEPALIVE_MS / 1000;
		pthread_cond_timedwait(&k->wake, &k->lock, &until);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

struct session {
	const struct trace_config *cfg;
	struct pod_resolver *pods; /* NULL: no resolution */
	FILE *out;
	__s64 realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	unsigned long shown;
	int err;
};

static __s64 realtime_offset_ns(void)
{
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	return (__s64)rt.tv_sec * 1000000000LL + rt.tv_nsec - (__s64)socklb_trace_now_ns();
}

static int on_event(const struct socklb_trace_event *ev, void *ctx)
{
	struct session *s = ctx;
	const struct trace_pod *pod = s->pods ? pod_resolver_lookup(s->pods, ev->cgroup_id) : NULL;
	struct trace_line line = { .ev = ev,
				   .wall_ns = (__u64)((__s64)ev->time_ns + s->realtime_offset_ns),
				   .pod = pod };

	if (!trace_filter_match(&s->cfg->filter, ev, pod))
		return 0;
	if (s->cfg->json) {
		s->err = trace_print_json(s->out, &line);
		if (s->err)
			return s->err;
	} else {
		trace_print_text(s->out, &line);
	}
	if (ferror(s->out)) {
		s->err = -EPIPE;
		return s->err;
	}
	s->shown++;
	/* Stops the poll: the count is reached. */
	return s->cfg->count && s->shown >= s->cfg->count ? -ECANCELED : 0;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed pipe (| head) ends the trace through a write error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
}

static void open_resolver(struct session *s)
{
	char mount[PATH_MAX];
	int err = socklb_term_cgroup2_mount("/proc/self/mountinfo", mount, sizeof(mount));

	if (err)
		pr_warn("trace: no cgroup v2 mount: events are matched to pods by their own cgroup only");
	err = pod_resolver_new(s->cfg->bpffs_root, err ? NULL : mount, &s->pods);
	if (err)
		pr_warn("trace: pods cannot be resolved (%s): events show cgroup ids", strerror(-err));
}

static void report_lost(struct socklb_trace *t, __u64 *seen, __u64 *last_report)
{
	__u64 now = socklb_trace_now_ns(), lost;

	if (now - *last_report < LOST_REPORT_NS)
		return;
	*last_report = now;
	lost = socklb_trace_lost(t);
	if (lost > *seen)
		pr_warn("trace: %llu events lost: the ring buffer was full (the reader or its output is too slow)",
			(unsigned long long)(lost - *seen));
	*seen = lost;
}

static int trace_open(const struct trace_config *cfg, struct session *s, struct socklb_trace **t)
{
	int err = socklb_trace_open(cfg->bpffs_root, on_event, s, t);

	if (err == -ENOENT)
		pr_err("trace: no trace maps are pinned under %s: no datapath is loaded there, or the one loaded "
		       "predates tracing (the plugin loads the new one at its next pod ADD)",
		       cfg->bpffs_root);
	else if (err == -EBUSY)
		pr_err("trace: another socklb-syncd trace is running for %s (one at a time: they would share its "
		       "events)",
		       cfg->bpffs_root);
	else if (err)
		pr_err("trace: cannot open the trace maps under %s: %s", cfg->bpffs_root, strerror(-err));
	return err;
}

int trace_run(const struct trace_config *cfg, FILE *out)
{
	struct session s = { .cfg = cfg, .out = out };
	struct keepalive k = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_condattr_t attr;
	__u64 lost_seen, last_report;
	pthread_t thread;
	int err, n;

	handle_signals();
	open_resolver(&s);
	err = trace_open(cfg, &s, &k.t);
	if (err)
		goto out;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&k.wake, &attr);
	pthread_condattr_destroy(&attr);
	/* On before the thread starts: the line below promises events from now on. */
	socklb_trace_keepalive(k.t, TRACE_TTL_MS);
	err = -pthread_create(&thread, NULL, keepalive_thread, &k);
	if (err) {
		pr_err("trace: cannot start the keepalive thread: %s", strerror(-err));
		goto out_trace;
	}
	pr_info("tracing the translations of the pods attached under %s (Ctrl-C stops)", cfg->bpffs_root);
	if (!cfg->json)
		trace_print_header(out);
	fflush(out);
	lost_seen = socklb_trace_lost(k.t);
	last_report = socklb_trace_now_ns();
	while (!stop_requested) {
		s.realtime_offset_ns = realtime_offset_ns();
		n = socklb_trace_poll(k.t, POLL_MS);
		/* A reader that went away (| head) is a normal end. */
		if (fflush(out) || ferror(out))
			break;
		if (n == -ECANCELED)
			break;
		if (n < 0 && n != -EINTR) {
			err = s.err ? s.err : n;
			break;
		}
		report_lost(k.t, &lost_seen, &last_report);
	}
	if (err == -EPIPE)
		err = 0;
	else if (err)
		pr_err("trace: reading the events: %s", strerror(-err));
	pthread_mutex_lock(&k.lock);
	k.stop = true;
	pthread_cond_signal(&k.wake);
	pthread_mutex_unlock(&k.lock);
	pthread_join(thread, NULL);
out_trace:
	socklb_trace_close(k.t);
	pthread_cond_destroy(&k.wake);
out:
	pod_resolver_free(s.pods);
	return err;
}
