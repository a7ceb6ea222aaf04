// SPDX-License-Identifier: Apache-2.0
/*
 * Endpoint change → map latency, for the benchmark: with socklb-syncd
 * running on `--source file:TARGET`, swap prepared versions of the file into
 * place (atomic rename, as a config tool would) and time how long until the
 * pinned services map shows the new backend count of one frontend. With
 * `--source kubernetes` against the test API server (test/apiserver/), TARGET
 * is the URL of its control interface that applies an object
 * (http://127.0.0.1:PORT/apply/endpointslices): the file's object is POSTed
 * there, and the server sends the watch event.
 *
 *   slb-bench-mapwait ROOT VIP PORT TCP|UDP TARGET ROUNDS FILE_A COUNT_A FILE_B COUNT_B
 *
 * Round 1 installs FILE_B (expecting COUNT_B backends), round 2 FILE_A, and
 * so on. FILE_A/FILE_B must be on TARGET's filesystem (they are hard-linked
 * next to TARGET, then renamed over it). Prints one line per round
 * ("round N us MICROSECONDS") and a summary:
 *   samples=N p50_us=X p99_us=Y max_us=Z failed=F
 * Exit status 1 when a round timed out (5 s) or the map already showed the
 * count a round was about to install (the files would not change anything).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lbmap.h"

#define ROUND_TIMEOUT_NS 5000000000ULL
#define POLL_NS 20000
#define SETTLE_NS 100000000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };

	nanosleep(&ts, NULL);
}

/* The frontend's backend count, or a negative errno (-ENOENT when absent). */
static long backend_count(struct socklb_maps *m, const struct socklb_frontend *fe)
{
	struct socklb_endpoint *be = NULL;
	struct socklb_svc svc;
	__u32 n = 0;
	int err;

	err = socklb_service_get(m, fe, &svc, &be, &n);
	free(be);
	return err ? err : (long)svc.count;
}

/* Put src in place of target atomically, the way kubectl-like tools and editors do. */
static int swap_in(const char *src, const char *target)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.swap", target);
	unlink(tmp);
	if (link(src, tmp)) {
		fprintf(stderr, "slb-bench-mapwait: link %s to %s: %s\n", src, tmp, strerror(errno));
		return -errno;
	}
	if (rename(tmp, target)) {
		fprintf(stderr, "slb-bench-mapwait: rename %s to %s: %s\n", tmp, target, strerror(errno));
		return -errno;
	}
	return 0;
}

/* A whole file in memory (NUL-terminated); NULL when unreadable. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

/* POST body to url (http://127.0.0.1:PORT/PATH, the test API server's control interface); 0 on a 200 answer. */
static int post(const char *url, const char *body, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char head[512], answer[512];
	const char *path;
	int port, fd, err = -EIO;
	ssize_t got;

	if (sscanf(url, "http://127.0.0.1:%d", &port) != 1 || !(path = strchr(url + 7, '/')))
		return -EINVAL;
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(head, sizeof(head),
		 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 path, len);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && write(fd, head, strlen(head)) > 0 &&
	    write(fd, body, len) == (ssize_t)len && (got = read(fd, answer, sizeof(answer) - 1)) > 0) {
		answer[got] = '\0';
		err = strncmp(answer, "HTTP/1.1 200", 12) == 0 ? 0 : -EPROTO;
	}
	if (err)
		fprintf(stderr, "slb-bench-mapwait: POST %s failed\n", url);
	close(fd);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double nearest_rank_us(const uint64_t *v, int n, double p)
{
	int rank = (int)(p / 100.0 * n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1] / 1000.0;
}

static int usage(void)
{
	fprintf(stderr, "usage: slb-bench-mapwait ROOT VIP PORT TCP|UDP TARGET ROUNDS FILE_A COUNT_A FILE_B COUNT_B\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct socklb_frontend fe = {};
	struct socklb_maps m;
	const char *files[2], *target;
	char *bodies[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };
	bool http;
	long counts[2], got = 0;
	int rounds, proto, round, failed = 0, n = 0, err;
	uint64_t *lat, t0, t;

	if (argc != 11)
		return usage();
	target = argv[5];
	rounds = atoi(argv[6]);
	files[0] = argv[7];
	counts[0] = atol(argv[8]);
	files[1] = argv[9];
	counts[1] = atol(argv[10]);
	proto = socklb_proto_parse(argv[4]);
	if (socklb_addr_parse(argv[2], fe.addr) || proto < 0 || atoi(argv[3]) <= 0 || atoi(argv[3]) > 65535 ||
	    rounds < 1) {
		fprintf(stderr, "slb-bench-mapwait: bad frontend %s:%s/%s or rounds %s\n", argv[2], argv[3], argv[4],
			argv[6]);
		return usage();
	}
	fe.port = (__u16)atoi(argv[3]);
	fe.proto = (__u8)proto;
	http = strncmp(target, "http://", 7) == 0;
	for (int i = 0; http && i < 2; i++) {
		bodies[i] = read_all(files[i], &lens[i]);
		if (!bodies[i]) {
			fprintf(stderr, "slb-bench-mapwait: cannot read %s\n", files[i]);
			return 1;
		}
	}
	err = socklb_maps_open_existing(argv[1], &m);
	if (err) {
		fprintf(stderr, "slb-bench-mapwait: open maps under %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	lat = calloc(rounds, sizeof(*lat));
	if (!lat) {
		socklb_maps_close(&m);
		return 1;
	}
	for (round = 1; round <= rounds; round++) {
		int which = round % 2; /* odd rounds install FILE_B */

		got = backend_count(&m, &fe);
		if (got == counts[which]) {
			fprintf(stderr,
				"slb-bench-mapwait: round %d: %s:%s already has %ld backends before %s is in place\n",
				round, argv[2], argv[3], got, files[which]);
			failed++;
			break;
		}
		t0 = now_ns();
		if (http ? post(target, bodies[which], lens[which]) : swap_in(files[which], target)) {
			failed++;
			break;
		}
		for (t = t0; t - t0 < ROUND_TIMEOUT_NS; t = now_ns()) {
			got = backend_count(&m, &fe);
			if (got == counts[which])
				break;
			sleep_ns(POLL_NS);
		}
		if (got != counts[which]) {
			fprintf(stderr,
				"slb-bench-mapwait: round %d: %s:%s still has %ld backends after 5 s, want %ld\n",
				round, argv[2], argv[3], got, counts[which]);
			failed++;
			continue;
		}
		lat[n++] = t - t0;
		printf("round %d us %.1f\n", round, (t - t0) / 1000.0);
		sleep_ns(SETTLE_NS);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("samples=%d p50_us=%.1f p99_us=%.1f max_us=%.1f failed=%d\n", n, n ? nearest_rank_us(lat, n, 50) : 0,
	       n ? nearest_rank_us(lat, n, 99) : 0, n ? lat[n - 1] / 1000.0 : 0, failed);
	free(lat);
	free(bodies[0]);
	free(bodies[1]);
	socklb_maps_close(&m);
	return failed ? 1 : 0;
}
