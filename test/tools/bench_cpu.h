/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a benchmark window cost in CPU time, read at the window's two edges
 * by the load generator itself (slb-bench), so the time and the operations
 * counted cover the same interval.
 *
 * Two measures:
 *   tasks  the CPU time of the load generator and of the servers it names
 *          (their pids), from the scheduler's per-task accounting: the
 *          kernel work each does in its own context (system calls, the BPF
 *          programs, and softirq network processing run on its way out of a
 *          system call) counts, other processes on the machine do not. This
 *          kernel has no IRQ time accounting, so softirq time stays with the
 *          task it interrupted; see README "Reading the figures".
 *          Also each task's time waiting on a run queue and its number of
 *          runs (/proc/PID/schedstat, CONFIG_SCHED_INFO).
 *   busy   wall time minus idle time of the listed CPUs (cpuidle residency,
 *          exact to the microsecond; /proc/stat in clock ticks without
 *          cpuidle): everything those CPUs did, ours or not, deferred work
 *          (RCU callbacks, timers, workqueues) included.
 */
#ifndef SOCKLB_TEST_BENCH_CPU_H
#define SOCKLB_TEST_BENCH_CPU_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CPU_MAX_PIDS 64
#define BENCH_CPU_MAX_CPUS 64

struct bench_task_time {
	uint64_t run_ns; /* on a CPU */
	uint64_t wait_ns; /* runnable, waiting for a CPU */
	uint64_t runs; /* times it was given a CPU */
};

struct bench_cpu {
	int pids[BENCH_CPU_MAX_PIDS];
	int npids;
	int cpus[BENCH_CPU_MAX_CPUS];
	int ncpus;
	int edges; /* 0: nothing read yet; 1: window start read; 2: both edges read */
	bool failed; /* a task or CPU could not be read: no figures */
	uint64_t wall_ns[2];
	struct bench_task_time self[2];
	struct bench_task_time task[BENCH_CPU_MAX_PIDS][2];
	uint64_t idle_us[BENCH_CPU_MAX_CPUS][2];
};

/* "1,2,3" into at most max integers >= 0. */
static inline int bench_cpu_parse_list(const char *s, int *out, int max, int *n)
{
	char *end;
	long v;

	*n = 0;
	while (*s) {
		v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 4194304 || *n == max || (*end && *end != ','))
			return -EINVAL;
		out[(*n)++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -EINVAL;
}

static inline int bench_read_schedstat(const char *path, struct bench_task_time *t)
{
	unsigned long long run, wait, runs;
	FILE *f = fopen(path, "r");
	int got;

	if (!f)
		return -errno;
	got = fscanf(f, "%llu %llu %llu", &run, &wait, &runs);
	fclose(f);
	if (got != 3)
		return -EIO;
	t->run_ns = run;
	t->wait_ns = wait;
	t->runs = runs;
	return 0;
}

/*
 * Its own run time from the CPU-time clock: /proc/self/schedstat is updated
 * only at the scheduler's events, up to a tick late for a task that is running.
 */
static inline int bench_read_self(struct bench_task_time *t)
{
	struct timespec ts;
	int err = bench_read_schedstat("/proc/thread-self/schedstat", t);

	if (err)
		return err;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return -errno;
	t->run_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return 0;
}

/* Idle microseconds of one CPU: the sum of its cpuidle states' residency, else /proc/stat. */
static inline int bench_read_idle(int cpu, uint64_t *us)
{
	char path[128], line[512];
	unsigned long long v, f[10] = {};
	int state, found = 0;
	FILE *file;

	*us = 0;
	for (state = 0;; state++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpuidle/state%d/time", cpu, state);
		file = fopen(path, "r");
		if (!file)
			break;
		if (fscanf(file, "%llu", &v) == 1) {
			*us += v;
			found = 1;
		}
		fclose(file);
	}
	if (found)
		return 0;
	file = fopen("/proc/stat", "r");
	if (!file)
		return -errno;
	snprintf(path, sizeof(path), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), file)) {
		if (strncmp(line, path, strlen(path)) == 0 &&
		    sscanf(line + strlen(path), "%llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4]) == 5) {
			/* idle and iowait, in clock ticks */
			*us = (f[3] + f[4]) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK);
			found = 1;
			break;
		}
	}
	fclose(file);
	return found ? 0 : -ENOENT;
}

/* Read one edge of the window (call twice: at its start, at its end). */
static inline void bench_cpu_edge(struct bench_cpu *c)
{
	char path[64];
	struct timespec ts;
	int e = c->edges, i;

	if (e > 1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->wall_ns[e] = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (bench_read_self(&c->self[e]))
		c->failed = true;
	for (i = 0; i < c->npids; i++) {
		snprintf(path, sizeof(path), "/proc/%d/schedstat", c->pids[i]);
		if (bench_read_schedstat(path, &c->task[i][e]))
			c->failed = true;
	}
	for (i = 0; i < c->ncpus; i++) {
		if (bench_read_idle(c->cpus[i], &c->idle_us[i][e]))
			c->failed = true;
	}
	c->edges++;
}

/*
 * " cpu_client_us=.. cpu_server_us=.. busy_us=.. wait_client_us=.. wait_server_us=.. runs_server=.."
 * for the result line; nothing when an edge is missing or a read failed.
 */
static inline void bench_cpu_print(const struct bench_cpu *c, FILE *out)
{
	double server = 0, wait = 0, runs = 0, busy = 0, wall_us;
	int i;

	if (c->edges != 2 || c->failed)
		return;
	for (i = 0; i < c->npids; i++) {
		server += (double)(c->task[i][1].run_ns - c->task[i][0].run_ns);
		wait += (double)(c->task[i][1].wait_ns - c->task[i][0].wait_ns);
		runs += (double)(c->task[i][1].runs - c->task[i][0].runs);
	}
	wall_us = (double)(c->wall_ns[1] - c->wall_ns[0]) / 1000.0;
	for (i = 0; i < c->ncpus; i++)
		busy += wall_us - (double)(c->idle_us[i][1] - c->idle_us[i][0]);
	fprintf(out, " cpu_client_us=%.0f cpu_server_us=%.0f", (double)(c->self[1].run_ns - c->self[0].run_ns) / 1000.0,
		server / 1000.0);
	if (c->ncpus)
		fprintf(out, " busy_us=%.0f", busy);
	fprintf(out, " wait_client_us=%.0f wait_server_us=%.0f runs_server=%.0f",
		(double)(c->self[1].wait_ns - c->self[0].wait_ns) / 1000.0, wait / 1000.0, runs);
}

/* "cpu N busy_us=.." per CPU and "pid PID run_us=.. wait_us=.. runs=.." per server task, for --per-backend. */
static inline void bench_cpu_print_tasks(const struct bench_cpu *c, FILE *out)
{
	double wall_us = (double)(c->wall_ns[1] - c->wall_ns[0]) / 1000.0;
	int i;

	if (c->edges != 2 || c->failed)
		return;
	for (i = 0; i < c->ncpus; i++)
		fprintf(out, "cpu %d busy_us=%.0f\n", c->cpus[i],
			wall_us - (double)(c->idle_us[i][1] - c->idle_us[i][0]));
	for (i = 0; i < c->npids; i++)
		fprintf(out, "pid %d run_us=%.0f wait_us=%.0f runs=%llu\n", c->pids[i],
			(double)(c->task[i][1].run_ns - c->task[i][0].run_ns) / 1000.0,
			(double)(c->task[i][1].wait_ns - c->task[i][0].wait_ns) / 1000.0,
			(unsigned long long)(c->task[i][1].runs - c->task[i][0].runs));
}

#endif /* SOCKLB_TEST_BENCH_CPU_H */
