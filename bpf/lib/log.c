// SPDX-License-Identifier: Apache-2.0
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	const char *prog;
	enum socklb_log_level level;
	FILE *file;
	bool to_stderr;
} logger = { "socklb", SOCKLB_LOG_INFO, NULL, true };

static __thread bool libbpf_quiet;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void log_line(FILE *out, enum socklb_log_level level, const char *fmt, va_list ap)
{
	char stamp[32];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One line at a time, also when several threads log. */
	flockfile(out);
	fprintf(out, "%s.%03ldZ %s[%d] %s: ", stamp, (long)tv.tv_usec / 1000, logger.prog, (int)getpid(),
		level_names[level]);
	vfprintf(out, fmt, ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', out);
	fflush(out);
	funlockfile(out);
}

static void log_va(enum socklb_log_level level, const char *fmt, va_list ap)
{
	va_list copy;

	if (!socklb_log_enabled(level))
		return;
	if (logger.file) {
		va_copy(copy, ap);
		log_line(logger.file, level, fmt, copy);
		va_end(copy);
	}
	if (logger.to_stderr)
		log_line(stderr, level, fmt, ap);
}

void socklb_log(enum socklb_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, fmt, ap);
	va_end(ap);
}

bool socklb_log_enabled(enum socklb_log_level level)
{
	return level <= logger.level && (logger.file || logger.to_stderr);
}

/* libbpf's messages, one level below ours: its warnings are our debug detail unless they fail a call. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum socklb_log_level ours = level == LIBBPF_WARN && !libbpf_quiet ? SOCKLB_LOG_INFO : SOCKLB_LOG_DEBUG;

	log_va(ours, fmt, ap);
	return 0;
}

void socklb_log_init(const char *prog, enum socklb_log_level level, FILE *file, bool to_stderr)
{
	logger.prog = prog;
	logger.level = level;
	logger.file = file;
	logger.to_stderr = to_stderr;
	libbpf_set_print(libbpf_print);
}

void socklb_log_libbpf_quiet(bool on)
{
	libbpf_quiet = on;
}

int socklb_log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}
