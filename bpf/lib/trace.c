// SPDX-License-Identifier: Apache-2.0
/* Tracing the datapath: see trace.h. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "trace.h"

struct socklb_trace {
	int ctl; /* the control map */
	struct socklb_trace_ctl *word; /* its value, mapped */
	int ring; /* the ring buffer map: kept open, its epoll registration lives as long */
	int lock; /* <root>/trace, flock'ed */
	struct ring_buffer *reader;
	socklb_trace_cb cb;
	void *ctx;
};

static const char *const verdict_names[] = {
	[SOCKLB_VERDICT_TRANSLATED] = "translated",	 [SOCKLB_VERDICT_REFUSED] = "refused-no-endpoints",
	[SOCKLB_VERDICT_AFFINITY] = "affinity-hit",	 [SOCKLB_VERDICT_STICKY] = "sticky-udp",
	[SOCKLB_VERDICT_REVERSE] = "reverse-translated",
};

static const char *const hook_names[] = {
	[SOCKLB_TRACE_CONNECT] = "connect",
	[SOCKLB_TRACE_SENDMSG] = "sendmsg",
	[SOCKLB_TRACE_RECVMSG] = "recvmsg",
	[SOCKLB_TRACE_GETPEERNAME] = "getpeername",
};

#define N_VERDICTS (sizeof(verdict_names) / sizeof(verdict_names[0]))
#define N_HOOKS (sizeof(hook_names) / sizeof(hook_names[0]))

const char *socklb_verdict_name(__u8 verdict)
{
	return verdict < N_VERDICTS ? verdict_names[verdict] : NULL;
}

int socklb_verdict_parse(const char *name)
{
	for (size_t v = 0; v < N_VERDICTS; v++) {
		if (verdict_names[v] && strcmp(name, verdict_names[v]) == 0)
			return (int)v;
	}
	return -EINVAL;
}

const char *socklb_trace_hook_name(__u8 hook)
{
	return hook < N_HOOKS && hook_names[hook] ? hook_names[hook] : "?";
}

__u64 socklb_trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int pin_open(const char *root, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* The value of a one-entry BPF_F_MMAPABLE array starts its first page. */
static size_t ctl_map_len(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int socklb_trace_ctl_read(const char *root, struct socklb_trace_ctl *out)
{
	__u32 zero = 0;
	int fd, err = 0;

	fd = pin_open(root, SOCKLB_MAP_TRACE_CTL);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, out))
		err = -errno;
	close(fd);
	return err;
}

_Static_assert(offsetof(struct socklb_trace_event, pid) == SOCKLB_TRACE_EVENT_V1_SIZE,
	       "the first events end where the process begins");

bool socklb_trace_event_decode(const void *data, size_t size, struct socklb_trace_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (size < SOCKLB_TRACE_EVENT_V1_SIZE)
		return false;
	memcpy(ev, data, size < sizeof(*ev) ? size : sizeof(*ev));
	return true;
}

static int ring_sample(void *ctx, void *data, size_t size)
{
	struct socklb_trace *t = ctx;
	struct socklb_trace_event ev;

	/* not ours to decode: skipped */
	if (!socklb_trace_event_decode(data, size, &ev))
		return 0;
	return t->cb(&ev, t->ctx);
}

int socklb_trace_open(const char *root, socklb_trace_cb cb, void *ctx, struct socklb_trace **out)
{
	struct socklb_trace *t;
	char path[PATH_MAX];
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cb = cb;
	t->ctx = ctx;
	t->lock = -1;
	t->ring = -1;
	t->ctl = pin_open(root, SOCKLB_MAP_TRACE_CTL);
	if (t->ctl < 0) {
		err = t->ctl;
		goto err;
	}
	t->word = mmap(NULL, ctl_map_len(), PROT_READ | PROT_WRITE, MAP_SHARED, t->ctl, 0);
	if (t->word == MAP_FAILED) {
		t->word = NULL;
		err = -errno;
		goto err;
	}
	t->ring = pin_open(root, SOCKLB_MAP_TRACE);
	if (t->ring < 0) {
		err = t->ring;
		goto err;
	}
	/* <root>/trace, created on first use, held with a non-blocking exclusive flock. */
	snprintf(path, sizeof(path), "%s/trace", root);
	t->lock = socklb_dir_lock(path, true, true, NULL);
	if (t->lock < 0) {
		err = t->lock;
		goto err;
	}
	t->reader = ring_buffer__new(t->ring, ring_sample, t, NULL);
	if (!t->reader) {
		err = -errno;
		goto err;
	}
	*out = t;
	return 0;
err:
	socklb_trace_close(t);
	return err;
}

void socklb_trace_keepalive(struct socklb_trace *t, unsigned int ttl_ms)
{
	__atomic_store_n(&t->word->until_ns, socklb_trace_now_ns() + (__u64)ttl_ms * 1000000ULL, __ATOMIC_RELAXED);
}

int socklb_trace_poll(struct socklb_trace *t, int timeout_ms)
{
	return ring_buffer__poll(t->reader, timeout_ms);
}

__u64 socklb_trace_lost(struct socklb_trace *t)
{
	return __atomic_load_n(&t->word->lost, __ATOMIC_RELAXED);
}

void socklb_trace_close(struct socklb_trace *t)
{
	if (!t)
		return;
	/* Off only when we were the tracer: a second one refused (-EBUSY) must not stop the first. */
	if (t->lock >= 0 && t->word)
		__atomic_store_n(&t->word->until_ns, 0, __ATOMIC_RELAXED);
	if (t->word)
		munmap(t->word, ctl_map_len());
	ring_buffer__free(t->reader);
	if (t->ring >= 0)
		close(t->ring);
	if (t->ctl >= 0)
		close(t->ctl);
	socklb_dir_unlock(t->lock);
	free(t);
}
