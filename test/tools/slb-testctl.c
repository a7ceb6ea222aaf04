// SPDX-License-Identifier: Apache-2.0
/*
 * Drives the datapath library directly, for tests that must not depend on
 * the plugin or the daemon:
 *
 *   slb-testctl load ROOT
 *   slb-testctl attach ROOT CGROUP_DIR NAME
 *   slb-testctl detach ROOT NAME
 *   slb-testctl svc ROOT VIP PORT tcp|udp AFFINITY_SECONDS [BACKEND_ADDR:PORT | [V6]:PORT ...]
 *   slb-testctl del ROOT VIP PORT tcp|udp
 *   slb-testctl stats ROOT VIP PORT tcp|udp
 *   slb-testctl churn ROOT VIP PORT tcp|udp MILLISECONDS BACKEND...   (alternate full set / first one)
 *   slb-testctl trace-state ROOT    the trace control word: "off", "on MS" (left) or "expired MS" (ago)
 *   slb-testctl trace-drain ROOT    consume the events waiting in the ring buffer: "events N"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"
#include "lbmap.h"
#include "log.h"
#include "tool_util.h"
#include "trace.h"

static int parse_frontend(char **argv, struct socklb_frontend *fe)
{
	int proto = socklb_proto_parse(argv[2]);

	memset(fe, 0, sizeof(*fe));
	if (socklb_addr_parse(argv[0], fe->addr) || proto < 0) {
		fprintf(stderr, "bad frontend %s %s %s\n", argv[0], argv[1], argv[2]);
		return -EINVAL;
	}
	fe->port = (__u16)atoi(argv[1]);
	fe->proto = (__u8)proto;
	return 0;
}

static int parse_endpoints(int n, char **argv, struct socklb_endpoint *eps)
{
	int i;

	for (i = 0; i < n; i++) {
		if (parse_endpoint(argv[i], &eps[i])) {
			fprintf(stderr, "bad backend %s\n", argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmd_trace_state(const char *root)
{
	struct socklb_trace_ctl ctl;
	__u64 now;
	int err = socklb_trace_ctl_read(root, &ctl);

	if (err)
		return err;
	now = socklb_trace_now_ns();
	if (!ctl.until_ns)
		printf("off\n");
	else if (ctl.until_ns > now)
		printf("on %llu\n", (unsigned long long)((ctl.until_ns - now) / 1000000));
	else
		printf("expired %llu\n", (unsigned long long)((now - ctl.until_ns) / 1000000));
	return 0;
}

static int count_event(const struct socklb_trace_event *ev, void *ctx)
{
	(void)ev;
	(*(unsigned long *)ctx)++;
	return 0;
}

/* Becomes the tracer without turning tracing on: whatever is waiting, and nothing new. */
static int cmd_trace_drain(const char *root)
{
	struct socklb_trace *t;
	unsigned long n = 0;
	int err = socklb_trace_open(root, count_event, &n, &t);

	if (err)
		return err;
	err = socklb_trace_poll(t, 0);
	socklb_trace_close(t);
	if (err < 0)
		return err;
	printf("events %lu\n", n);
	return 0;
}

static int cmd_attach(const char *root, const char *cgroup, const char *name)
{
	struct socklb_programs p;
	char dir[4096];
	int cg, err;

	err = socklb_programs_open(root, NULL, &p);
	if (err)
		return err;
	cg = open(cgroup, O_RDONLY | O_DIRECTORY);
	if (cg < 0) {
		perror(cgroup);
		socklb_programs_close(&p);
		return -errno;
	}
	err = socklb_attachment_dir(root, name, "eth0", dir, sizeof(dir));
	if (!err)
		err = socklb_attach(&p, cg, dir);
	close(cg);
	socklb_programs_close(&p);
	return err;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct socklb_endpoint eps[256];
	struct socklb_frontend fe;
	struct socklb_maps m;
	struct socklb_stats st;
	struct socklb_svc svc;
	struct socklb_programs p;
	struct socklb_endpoint *cur;
	char dir[4096];
	__u32 ncur;
	long long end;
	int err = -EINVAL, n, rounds = 0;

	socklb_log_init("slb-testctl", SOCKLB_LOG_WARN, NULL, true);
	if (argc == 3 && strcmp(argv[1], "load") == 0) {
		err = socklb_programs_open(argv[2], NULL, &p);
		if (!err)
			socklb_programs_close(&p);
	} else if (argc == 5 && strcmp(argv[1], "attach") == 0) {
		err = cmd_attach(argv[2], argv[3], argv[4]);
	} else if (argc == 4 && strcmp(argv[1], "detach") == 0) {
		err = socklb_attachment_dir(argv[2], argv[3], "eth0", dir, sizeof(dir));
		if (!err)
			err = socklb_detach(dir);
	} else if (argc >= 7 && strcmp(argv[1], "svc") == 0) {
		n = argc - 7;
		if (n > 256 || parse_frontend(argv + 3, &fe) || parse_endpoints(n, argv + 7, eps))
			return 2;
		err = socklb_maps_open(argv[2], NULL, &m);
		if (!err) {
			err = socklb_service_upsert(&m, &fe, eps, (__u32)n, (__u32)atoi(argv[6]));
			socklb_maps_close(&m);
		}
	} else if (argc == 6 && (strcmp(argv[1], "del") == 0 || strcmp(argv[1], "stats") == 0)) {
		if (parse_frontend(argv + 3, &fe))
			return 2;
		err = socklb_maps_open(argv[2], NULL, &m);
		if (!err && argv[1][0] == 'd') {
			err = socklb_service_delete(&m, &fe);
		} else if (!err) {
			err = socklb_service_get(&m, &fe, &svc, &cur, &ncur);
			if (!err) {
				free(cur);
				err = socklb_service_stats(&m, svc.id, &st);
			}
			if (!err)
				printf("translated %llu no_backend %llu\n", (unsigned long long)st.translated,
				       (unsigned long long)st.no_backend);
		}
		if (m.services >= 0)
			socklb_maps_close(&m);
	} else if (argc == 3 && strcmp(argv[1], "trace-state") == 0) {
		err = cmd_trace_state(argv[2]);
	} else if (argc == 3 && strcmp(argv[1], "trace-drain") == 0) {
		err = cmd_trace_drain(argv[2]);
	} else if (argc >= 8 && strcmp(argv[1], "churn") == 0) {
		n = argc - 7;
		if (n > 256 || parse_frontend(argv + 3, &fe) || parse_endpoints(n, argv + 7, eps))
			return 2;
		err = socklb_maps_open(argv[2], NULL, &m);
		end = now_ms() + atoi(argv[6]);
		while (!err && now_ms() < end) {
			/* full set, then only the first backend, then the full set again */
			err = socklb_service_upsert(&m, &fe, eps + (rounds % 2 ? n - 1 : 0), rounds % 2 ? 1 : (__u32)n,
						    0);
			rounds++;
			usleep(2000);
		}
		if (!err)
			err = socklb_service_upsert(&m, &fe, eps, (__u32)n, 0);
		printf("rounds %d\n", rounds);
		socklb_maps_close(&m);
	} else {
		fprintf(stderr, "usage: see the comment at the top of test/tools/slb-testctl.c\n");
		return 2;
	}
	if (err) {
		fprintf(stderr, "slb-testctl %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
}
