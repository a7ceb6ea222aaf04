// SPDX-License-Identifier: Apache-2.0
/*
 * The benchmark's load generator: one thread, one epoll loop (the caller
 * pins it to one CPU with taskset), against slb-bench-server backends.
 *
 *   slb-bench crr    --target T [--conc N] [--seconds S] [--warmup S] [--request BYTES] [ACCOUNTING]
 *   slb-bench udp    --target T [--conc N] [--seconds S] [--warmup S] [--request BYTES] [ACCOUNTING]
 *   slb-bench stream --target T [--seconds S] [--warmup S] [ACCOUNTING]
 *   slb-bench connect --target T [--seconds S] [--warmup S] [ACCOUNTING]
 *   slb-bench spread --target T [--count N]
 *
 * T is ADDR:PORT, or several separated by commas: the direct path spreads
 * over the backend pods itself (connections go to them in turn, or to one
 * chosen at random with --pick random, as a load balancer chooses).
 *
 * ACCOUNTING (bench_cpu.h), read at the measured window's two edges:
 *   --cpu-pids PID,...  the servers' tasks: their CPU time counts with the
 *                       generator's own (cpu_client_us, cpu_server_us)
 *   --busy-cpus N,...   these CPUs' busy time (busy_us)
 *   --per-backend       per backend (named by its reply): operations,
 *                       sockets, p50/p99; per server task: CPU time, time
 *                       waiting for a CPU, runs
 *
 *   crr     short TCP connections, N at a time: socket, connect, request,
 *           reply, the server's close, close. Latency is socket() to the
 *           end of the reply (EOF).
 *   udp     N unconnected UDP sockets, each with one request in flight
 *           (sendto/recvfrom with the source address). Socket i talks to
 *           target number i modulo the number of targets only: behind a
 *           VIP a socket keeps one backend (socklb, conntrack), so the
 *           direct path does the same. Latency is send to reply.
 *   stream  one TCP connection writing 128 KiB at a time.
 *   connect a UDP socket's connect() alone, one socket after the other:
 *           socket, connect, close; no packet is sent.
 *   spread  COUNT sequential crr connections; prints how many replies came
 *           from each backend name (a check that a path balances).
 *
 * Only operations that complete inside the measured window (after the
 * warm-up) count. Prints one line of key=value pairs:
 *   load=crr ops=N seconds=S rate=OPS_PER_S p50_us=X p99_us=Y errors=E
 * (stream adds bytes= and gbps=; accounting adds its fields), then with
 * --per-backend one line per backend and per server task. Exit status 1
 * when any operation failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_cpu.h"
#include "tool_util.h"

#define MAX_TARGETS 64
#define MAX_BACKENDS 64
#define MAX_CONC 1024
#define MAX_REQUEST 65000
#define UDP_TIMEOUT_NS 1000000000ULL
#define STRAGGLER_NS 2000000000ULL
#define STREAM_CHUNK (128 * 1024)

struct options {
	struct sockaddr_in targets[MAX_TARGETS];
	int ntargets;
	int conc;
	double seconds;
	double warmup;
	int request;
	int count;
	bool pick_random;
	bool per_backend;
};

/* Latencies in nanoseconds; UINT32_MAX ns (4.3 s) is far above anything a local path takes. */
struct samples {
	uint32_t *v;
	size_t n, cap;
};

/* What one backend (named by the first line of its replies) served. */
struct backend_stats {
	char name[32];
	unsigned long long ops;
	unsigned sockets;
	struct samples lat;
};

struct result {
	unsigned long long ops;
	unsigned long long errors;
	unsigned long long bytes;
	struct samples lat;
	struct bench_cpu cpu;
	struct backend_stats backends[MAX_BACKENDS];
	int nbackends;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

/* The index of the backend whose reply starts buf ("NAME\n..."), or -1. */
static int backend_of(struct result *r, const char *buf, size_t n)
{
	const char *nl = memchr(buf, '\n', n);
	size_t len = nl ? (size_t)(nl - buf) : 0;
	int i;

	if (!len || len >= sizeof(r->backends[0].name))
		return -1;
	for (i = 0; i < r->nbackends; i++) {
		if (strlen(r->backends[i].name) == len && memcmp(r->backends[i].name, buf, len) == 0)
			return i;
	}
	if (r->nbackends == MAX_BACKENDS)
		return -1;
	memcpy(r->backends[i].name, buf, len);
	return r->nbackends++;
}

/* One operation completed inside the window, len ns after it started, served by backend (-1: unknown). */
static void count_op(struct result *r, int backend, uint64_t len)
{
	r->ops++;
	if (samples_add(&r->lat, len))
		r->errors++;
	if (backend >= 0) {
		r->backends[backend].ops++;
		if (samples_add(&r->backends[backend].lat, len))
			r->errors++;
	}
}

/* Reads the CPU accounting's edge once t has reached the window's start, then its end. */
static void cpu_window(struct bench_cpu *c, uint64_t t, uint64_t start, uint64_t end)
{
	if ((c->edges == 0 && t >= start) || (c->edges == 1 && t >= end))
		bench_cpu_edge(c);
}

/* The next target: in turn, or at random (--pick random). */
static const struct sockaddr_in *next_target(const struct options *o, unsigned *turn)
{
	if (o->pick_random)
		return &o->targets[(unsigned)random() % (unsigned)o->ntargets];
	return &o->targets[(*turn)++ % (unsigned)o->ntargets];
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile in microseconds; 0 without samples. */
static double percentile_us(const struct samples *s, double p)
{
	size_t rank;

	if (!s->n)
		return 0;
	rank = (size_t)(p / 100.0 * s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1] / 1000.0;
}

static int parse_targets(char *list, struct options *o)
{
	char *save = NULL, *item, *colon, *end;
	long port;

	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct sockaddr_in *t = &o->targets[o->ntargets];

		colon = strrchr(item, ':');
		if (!colon || o->ntargets == MAX_TARGETS) {
			fprintf(stderr, "slb-bench: target \"%s\": want IPV4:PORT (at most %d targets)\n", item,
				MAX_TARGETS);
			return -EINVAL;
		}
		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		memset(t, 0, sizeof(*t));
		t->sin_family = AF_INET;
		t->sin_port = htons((uint16_t)port);
		if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, item, &t->sin_addr) != 1) {
			fprintf(stderr, "slb-bench: target \"%s:%s\": bad IPv4 address or port\n", item, colon + 1);
			return -EINVAL;
		}
		o->ntargets++;
	}
	return o->ntargets ? 0 : -EINVAL;
}

/* ---- crr: short TCP connections -------------------------------------------------------------------------------- */

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_READING };

struct conn {
	int fd;
	enum conn_state state;
	int backend; /* index in the result's backends once the reply named it (--per-backend) */
	uint64_t t0;
};

struct crr {
	const struct options *o;
	int epoll_fd;
	struct conn conns[MAX_CONC];
	char request[MAX_REQUEST];
	unsigned next_target;
	uint64_t window_start, window_end;
	struct result *res;
};

static void crr_finish(struct crr *c, struct conn *k, bool ok, uint64_t t1)
{
	close(k->fd);
	k->fd = -1;
	k->state = CONN_IDLE;
	if (t1 < c->window_start || t1 > c->window_end)
		return;
	if (!ok) {
		c->res->errors++;
		return;
	}
	count_op(c->res, k->backend, t1 - k->t0);
	if (k->backend >= 0)
		c->res->backends[k->backend].sockets++;
}

static void crr_start(struct crr *c, struct conn *k)
{
	const struct sockaddr_in *t = next_target(c->o, &c->next_target);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = k };

	k->t0 = now_ns();
	k->backend = -1;
	k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		fprintf(stderr, "slb-bench: socket: %s\n", strerror(errno));
		c->res->errors++;
		return;
	}
	k->state = CONN_CONNECTING;
	if (connect(k->fd, (const struct sockaddr *)t, sizeof(*t)) && errno != EINPROGRESS) {
		crr_finish(c, k, false, now_ns());
		return;
	}
	if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, k->fd, &ev)) {
		fprintf(stderr, "slb-bench: epoll_ctl: %s\n", strerror(errno));
		crr_finish(c, k, false, now_ns());
	}
}

/* Edge-triggered: do everything the socket allows now. */
static void crr_event(struct crr *c, struct conn *k)
{
	char buf[4096];
	socklen_t len = sizeof(int);
	int err = 0;
	ssize_t n;

	if (k->state == CONN_IDLE)
		return;
	if (k->state == CONN_CONNECTING) {
		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			crr_finish(c, k, false, now_ns());
			return;
		}
		n = write(k->fd, c->request, c->o->request);
		if (n == -1 && errno == EAGAIN)
			return; /* not connected yet: the EPOLLOUT edge comes */
		if (n != c->o->request) {
			crr_finish(c, k, false, now_ns());
			return;
		}
		k->state = CONN_READING;
	}
	for (;;) {
		n = read(k->fd, buf, sizeof(buf));
		if (n > 0) {
			if (c->o->per_backend && k->backend < 0)
				k->backend = backend_of(c->res, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			crr_finish(c, k, true, now_ns());
		else if (errno != EAGAIN)
			crr_finish(c, k, false, now_ns());
		return;
	}
}

static int run_crr(const struct options *o, struct result *res)
{
	struct epoll_event events[MAX_CONC];
	struct crr *c;
	uint64_t t, stop;
	int i, n, active, err = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->res = res;
	memset(c->request, 'q', o->request - 1);
	c->request[o->request - 1] = '\n';
	c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epoll_fd < 0) {
		err = -errno;
		perror("slb-bench: epoll_create1");
		goto out;
	}
	t = now_ns();
	c->window_start = t + (uint64_t)(o->warmup * 1e9);
	c->window_end = c->window_start + (uint64_t)(o->seconds * 1e9);
	stop = c->window_end + STRAGGLER_NS;
	for (i = 0; i < o->conc; i++) {
		c->conns[i].fd = -1;
		crr_start(c, &c->conns[i]);
	}
	for (;;) {
		n = epoll_wait(c->epoll_fd, events, MAX_CONC, 10);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			perror("slb-bench: epoll_wait");
			break;
		}
		for (i = 0; i < n; i++)
			crr_event(c, events[i].data.ptr);
		t = now_ns();
		cpu_window(&res->cpu, t, c->window_start, c->window_end);
		active = 0;
		for (i = 0; i < o->conc; i++) {
			if (c->conns[i].state == CONN_IDLE && t < c->window_end)
				crr_start(c, &c->conns[i]);
			active += c->conns[i].state != CONN_IDLE;
		}
		if (!active || t > stop)
			break;
	}
	/* stragglers past the grace period count as failures */
	for (i = 0; i < o->conc; i++) {
		if (c->conns[i].state != CONN_IDLE) {
			close(c->conns[i].fd);
			res->errors++;
		}
	}
	close(c->epoll_fd);
out:
	free(c);
	return err;
}

/* ---- udp: request/response on unconnected sockets ------------------------------------------------------------- */

struct udp_slot {
	uint64_t t0;
	const struct sockaddr_in *target;
	int fd;
	int backend; /* index in the result's backends once a reply named it (--per-backend) */
	bool in_flight;
};

static int udp_send(const struct options *o, struct udp_slot *s, const char *req)
{
	s->t0 = now_ns();
	s->in_flight =
		sendto(s->fd, req, o->request, 0, (const struct sockaddr *)s->target, sizeof(*s->target)) == o->request;
	return s->in_flight ? 0 : -1;
}

static int run_udp(const struct options *o, struct result *res)
{
	static struct udp_slot slots[MAX_CONC];
	static char req[MAX_REQUEST], buf[65536];
	struct epoll_event events[MAX_CONC];
	uint64_t t, window_start, window_end;
	unsigned turn = 0;
	int epoll_fd, i, n;

	memset(req, 'q', o->request);
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0) {
		perror("slb-bench: epoll_create1");
		return -errno;
	}
	for (i = 0; i < o->conc; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &slots[i] };

		/* Each socket keeps one peer, as it keeps one backend behind a VIP (socklb, conntrack). */
		slots[i].target = next_target(o, &turn);
		slots[i].backend = -1;
		slots[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (slots[i].fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, slots[i].fd, &ev)) {
			perror("slb-bench: udp socket");
			return -errno;
		}
	}
	t = now_ns();
	window_start = t + (uint64_t)(o->warmup * 1e9);
	window_end = window_start + (uint64_t)(o->seconds * 1e9);
	for (i = 0; i < o->conc; i++)
		udp_send(o, &slots[i], req);
	while (now_ns() < window_end) {
		n = epoll_wait(epoll_fd, events, MAX_CONC, 10);
		if (n < 0 && errno != EINTR) {
			perror("slb-bench: epoll_wait");
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct udp_slot *s = events[i].data.ptr;
			struct sockaddr_in from;
			socklen_t from_len = sizeof(from);

			/* Ask for the source as a resolver does: with socklb that runs its recvmsg hook. */
			ssize_t got;

			while ((got = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len)) >= 0) {
				from_len = sizeof(from);
				if (!s->in_flight)
					continue; /* a late reply to a request already counted as lost */
				if (o->per_backend && s->backend < 0)
					s->backend = backend_of(res, buf, (size_t)got);
				t = now_ns();
				if (t >= window_start && t <= window_end)
					count_op(res, s->backend, t - s->t0);
				if (udp_send(o, s, req) && t >= window_start)
					res->errors++;
			}
		}
		t = now_ns();
		cpu_window(&res->cpu, t, window_start, window_end);
		for (i = 0; i < o->conc; i++) {
			if (slots[i].in_flight && t - slots[i].t0 < UDP_TIMEOUT_NS)
				continue;
			if (t >= window_start)
				res->errors++; /* lost (or never sent): send again */
			udp_send(o, &slots[i], req);
		}
	}
	bench_cpu_edge(&res->cpu);
	for (i = 0; i < o->conc; i++) {
		if (slots[i].backend >= 0)
			res->backends[slots[i].backend].sockets++;
		close(slots[i].fd);
	}
	close(epoll_fd);
	return 0;
}

/* ---- connect: a UDP socket's connect() alone, no packet ------------------------------------------------------- */

/*
 * socket, connect, close, one after the other: what choosing a backend costs
 * a socket (the connect program, the socket's record) without the network
 * work that dwarfs it in the other loads. Latency is socket() to close().
 */
static int run_connect(const struct options *o, struct result *res)
{
	uint64_t t, t1, window_start, window_end;
	unsigned turn = 0;
	int fd;

	t = now_ns();
	window_start = t + (uint64_t)(o->warmup * 1e9);
	window_end = window_start + (uint64_t)(o->seconds * 1e9);
	while ((t = now_ns()) < window_end) {
		const struct sockaddr_in *target = next_target(o, &turn);

		cpu_window(&res->cpu, t, window_start, window_end);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("slb-bench: socket");
			return -errno;
		}
		if (connect(fd, (const struct sockaddr *)target, sizeof(*target)) && t >= window_start)
			res->errors++;
		close(fd);
		t1 = now_ns();
		if (t >= window_start && t1 <= window_end)
			count_op(res, -1, t1 - t);
	}
	bench_cpu_edge(&res->cpu);
	return 0;
}

/* ---- stream: one long-lived TCP connection ---------------------------------------------------------------------- */

static int run_stream(const struct options *o, struct result *res)
{
	static char chunk[STREAM_CHUNK];
	struct timeval tv = { .tv_sec = 1 };
	uint64_t t, window_start, window_end;
	int fd;
	ssize_t n;

	memset(chunk, 's', sizeof(chunk));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (const struct sockaddr *)&o->targets[0], sizeof(o->targets[0]))) {
		fprintf(stderr, "slb-bench: stream connect: %s\n", strerror(errno));
		res->errors++;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	t = now_ns();
	window_start = t + (uint64_t)(o->warmup * 1e9);
	window_end = window_start + (uint64_t)(o->seconds * 1e9);
	while ((t = now_ns()) < window_end) {
		cpu_window(&res->cpu, t, window_start, window_end);
		n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			fprintf(stderr, "slb-bench: stream write: %s\n", strerror(errno));
			res->errors++;
			break;
		}
		if (t >= window_start)
			res->bytes += n;
	}
	bench_cpu_edge(&res->cpu);
	close(fd);
	return 0;
}

/* ---- spread: which backends a path reaches ------------------------------------------------------------------------ */

static int spread_once(const struct options *o, const struct sockaddr_in *t, char *name, size_t len)
{
	char buf[MAX_REQUEST], *nl;
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(buf, 'q', o->request - 1);
	buf[o->request - 1] = '\n';
	if (connect(fd, (const struct sockaddr *)t, sizeof(*t)) || write(fd, buf, o->request) != o->request) {
		err = -errno;
		close(fd);
		return err ? err : -EIO;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	nl = strchr(buf, '\n');
	if (!nl)
		return -EPROTO;
	*nl = '\0';
	snprintf(name, len, "%s", buf);
	return 0;
}

static int run_spread(const struct options *o)
{
	struct tally t = {};
	char name[64];
	int i, err;

	for (i = 0; i < o->count; i++) {
		err = spread_once(o, &o->targets[i % o->ntargets], name, sizeof(name));
		if (err) {
			if (!t.errors)
				fprintf(stderr, "slb-bench: spread: %s\n", strerror(-err));
			t.errors++;
			continue;
		}
		tally_add(&t, name);
	}
	return tally_print(&t);
}

/* ---- main ----------------------------------------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: slb-bench crr|udp|stream|connect --target ADDR:PORT[,ADDR:PORT...] [--conc N]\n"
			"                 [--seconds S] [--warmup S] [--request BYTES] [--pick turn|random]\n"
			"                 [--cpu-pids PID,...] [--busy-cpus N,...] [--per-backend]\n"
			"       slb-bench spread --target ADDR:PORT[,...] [--count N]\n");
	return 2;
}

static void print_backends(struct result *r)
{
	int i;

	for (i = 0; i < r->nbackends; i++) {
		struct backend_stats *b = &r->backends[i];

		if (b->lat.n)
			qsort(b->lat.v, b->lat.n, sizeof(b->lat.v[0]), cmp_u32);
		printf("backend %s ops=%llu sockets=%u p50_us=%.1f p99_us=%.1f\n", b->name, b->ops, b->sockets,
		       percentile_us(&b->lat, 50), percentile_us(&b->lat, 99));
		free(b->lat.v);
	}
	bench_cpu_print_tasks(&r->cpu, stdout);
}

static void print_result(const char *load, const struct options *o, struct result *r)
{
	if (r->lat.n)
		qsort(r->lat.v, r->lat.n, sizeof(r->lat.v[0]), cmp_u32);
	if (strcmp(load, "stream") == 0)
		printf("load=stream ops=1 seconds=%.3f rate=%.0f p50_us=0 p99_us=0 errors=%llu bytes=%llu gbps=%.3f",
		       o->seconds, r->bytes / o->seconds, r->errors, r->bytes, r->bytes * 8 / o->seconds / 1e9);
	else
		printf("load=%s ops=%llu seconds=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f errors=%llu", load, r->ops,
		       o->seconds, r->ops / o->seconds, percentile_us(&r->lat, 50), percentile_us(&r->lat, 99),
		       r->errors);
	bench_cpu_print(&r->cpu, stdout);
	printf("\n");
	if (o->per_backend)
		print_backends(r);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "conc", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "request", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "pick", required_argument, NULL, 'p' },
		{ "cpu-pids", required_argument, NULL, 'P' },
		{ "busy-cpus", required_argument, NULL, 'C' },
		{ "per-backend", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	static struct options o = { .conc = 1, .seconds = 2, .warmup = 0.2, .request = 64, .count = 120 };
	static struct result res;
	const char *load;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage();
	load = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (parse_targets(optarg, &o))
				return 2;
			break;
		case 'c':
			o.conc = atoi(optarg);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'w':
			o.warmup = atof(optarg);
			break;
		case 'r':
			o.request = atoi(optarg);
			break;
		case 'n':
			o.count = atoi(optarg);
			break;
		case 'p':
			if (strcmp(optarg, "random") != 0 && strcmp(optarg, "turn") != 0) {
				fprintf(stderr, "slb-bench: --pick %s: want turn or random\n", optarg);
				return 2;
			}
			o.pick_random = strcmp(optarg, "random") == 0;
			break;
		case 'P':
			if (bench_cpu_parse_list(optarg, res.cpu.pids, BENCH_CPU_MAX_PIDS, &res.cpu.npids)) {
				fprintf(stderr, "slb-bench: --cpu-pids %s: want PID,PID,... (at most %d)\n", optarg,
					BENCH_CPU_MAX_PIDS);
				return 2;
			}
			break;
		case 'C':
			if (bench_cpu_parse_list(optarg, res.cpu.cpus, BENCH_CPU_MAX_CPUS, &res.cpu.ncpus)) {
				fprintf(stderr, "slb-bench: --busy-cpus %s: want N,N,... (at most %d)\n", optarg,
					BENCH_CPU_MAX_CPUS);
				return 2;
			}
			break;
		case 'b':
			o.per_backend = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || !o.ntargets || o.conc < 1 || o.conc > MAX_CONC || o.seconds <= 0 || o.warmup < 0 ||
	    o.request < 1 || o.request > MAX_REQUEST || o.count < 1) {
		fprintf(stderr, "slb-bench: need --target; --conc 1..%d, --seconds > 0, --request 1..%d\n", MAX_CONC,
			MAX_REQUEST);
		return usage();
	}

	if (o.pick_random)
		srandom((unsigned)(now_ns() ^ (uint64_t)getpid()));
	if (strcmp(load, "crr") == 0)
		err = run_crr(&o, &res);
	else if (strcmp(load, "udp") == 0)
		err = run_udp(&o, &res);
	else if (strcmp(load, "stream") == 0)
		err = run_stream(&o, &res);
	else if (strcmp(load, "connect") == 0)
		err = run_connect(&o, &res);
	else if (strcmp(load, "spread") == 0)
		return run_spread(&o);
	else
		return usage();
	if (err)
		return 1;
	print_result(load, &o, &res);
	free(res.lat.v);
	return res.errors ? 1 : 0;
}
