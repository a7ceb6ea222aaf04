// SPDX-License-Identifier: Apache-2.0
#include "cni_watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

/* A primary CNI writes in bursts (truncate, write, rename): act once it has been quiet this long. */
#define SETTLE_MS 20
#define SETTLE_MAX_MS 300
/* After a failure (a half-written or broken file, a vanished dir), try again this often. */
#define RETRY_MS 5000
#define WATCH_EVENTS \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

struct cni_watch {
	struct cni_install_opts opts;
	char *conf_dir;
	char *entry;
	int inotify_fd;
	int wd; /* -1 while the dir is gone */
	int stop_fd;
	pthread_t thread;
	bool failing;
	bool told_no_config;
	struct socklb_err last_error;
};

/* first: the ensure at start, which adds an entry rather than putting one back. */
static void ensure(struct cni_watch *w, bool first)
{
	enum cni_conf_change change;
	struct socklb_err err;
	char *path = NULL;

	if (cni_conf_ensure(&w->opts, w->entry, CNI_ENTRY_KEEP, &path, &change, &err)) {
		/* The same broken file would log the same line every retry. */
		if (!w->failing || strcmp(err.msg, w->last_error.msg) != 0)
			pr_warn("cni: %s; socklb is added once it is fixed", err.msg);
		w->failing = true;
		w->last_error = err;
		return;
	}
	if (w->failing)
		pr_info("cni: the CNI config in %s is readable again", w->conf_dir);
	w->failing = false;
	if (!path) {
		if (!w->told_no_config)
			pr_info("cni: no network config in %s yet; socklb is added when the primary CNI writes one",
				w->conf_dir);
		w->told_no_config = true;
		return;
	}
	w->told_no_config = false;
	if (change == CNI_CONF_INSERTED && first)
		pr_info("cni: added socklb at the end of the plugins in %s", path);
	else if (change == CNI_CONF_INSERTED)
		pr_info("cni: %s was rewritten without socklb: put it back at the end of the plugins", path);
	else
		pr_debug("cni: socklb is in %s", path);
	free(path);
}

/* True when an event concerns a file runtimes read, or the watch itself. */
static bool drain_events(struct cni_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t n;

	while ((n = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_IGNORED)
				w->wd = -1;
			if ((ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW)) ||
			    (ev->len && cni_conf_is_config_name(ev->name)))
				relevant = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return relevant;
}

/* Let a burst of writes finish: wait until the dir has been quiet for SETTLE_MS (at most SETTLE_MAX_MS). */
static void settle(struct cni_watch *w)
{
	struct pollfd pfd = { .fd = w->inotify_fd, .events = POLLIN };

	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_MS) {
		if (poll(&pfd, 1, SETTLE_MS) <= 0)
			break;
		drain_events(w);
	}
}

static void rewatch(struct cni_watch *w)
{
	w->wd = inotify_add_watch(w->inotify_fd, w->conf_dir, WATCH_EVENTS);
	if (w->wd < 0 && !w->failing)
		pr_warn("cni: cannot watch %s: %s; trying again every %d s", w->conf_dir, strerror(errno),
			RETRY_MS / 1000);
	w->failing = w->wd < 0;
}

static void *watch_thread(void *arg)
{
	struct cni_watch *w = arg;
	struct pollfd pfd[2] = { { .fd = w->stop_fd, .events = POLLIN }, { .fd = w->inotify_fd, .events = POLLIN } };

	ensure(w, true);
	for (;;) {
		int ret = poll(pfd, 2, w->failing || w->wd < 0 ? RETRY_MS : -1);

		if (ret < 0 && errno != EINTR) {
			pr_err("cni: waiting for changes in %s failed: %s; no longer watching", w->conf_dir,
			       strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			break;
		if (ret > 0 && !drain_events(w))
			continue;
		if (ret > 0)
			settle(w);
		if (w->wd < 0) {
			rewatch(w);
			if (w->wd < 0)
				continue;
		}
		ensure(w, false);
	}
	return NULL;
}

static void watch_free(struct cni_watch *w)
{
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	free(w->conf_dir);
	free(w->entry);
	free(w);
}

int cni_watch_start(const struct cni_install_opts *o, struct cni_watch **out, struct socklb_err *e)
{
	struct cni_watch *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return socklb_fail(e, -ENOMEM, "cni: out of memory");
	w->inotify_fd = -1;
	w->stop_fd = -1;
	ret = cni_entry_build(o->entry_config, &w->entry, e);
	if (ret) {
		socklb_err_prefix(e, "cni");
		goto fail;
	}
	w->conf_dir = strdup(o->conf_dir);
	if (!w->conf_dir) {
		ret = socklb_fail(e, -ENOMEM, "cni: out of memory");
		goto fail;
	}
	cni_install_opts_init(&w->opts);
	w->opts.conf_dir = w->conf_dir;
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->inotify_fd < 0 || w->stop_fd < 0) {
		ret = socklb_fail(e, socklb_errno(), "cni: cannot set up the watch of %s: %s", o->conf_dir,
				  strerror(errno));
		goto fail;
	}
	w->wd = inotify_add_watch(w->inotify_fd, w->conf_dir, WATCH_EVENTS);
	if (w->wd < 0) {
		ret = socklb_fail(e, socklb_errno(), "cni: cannot watch %s: %s", o->conf_dir, strerror(errno));
		goto fail;
	}
	ret = -pthread_create(&w->thread, NULL, watch_thread, w);
	if (ret) {
		socklb_fail(e, ret, "cni: cannot start the watcher of %s: %s", o->conf_dir, strerror(-ret));
		goto fail;
	}
	pr_info("cni: keeping socklb in the primary conflist of %s", o->conf_dir);
	*out = w;
	return 0;
fail:
	watch_free(w);
	return ret;
}

void cni_watch_stop(struct cni_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("cni: cannot signal the watcher to stop: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	watch_free(w);
}
