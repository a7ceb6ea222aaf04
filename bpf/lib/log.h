/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One logger for the plugin, the daemon and the library: a level, stderr
 * and/or a file, and libbpf's own messages routed through it one level lower.
 * Never stdout: the CNI plugin's stdout carries only its result.
 */
#ifndef SOCKLB_LOG_H
#define SOCKLB_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum socklb_log_level {
	SOCKLB_LOG_ERROR = 0,
	SOCKLB_LOG_WARN = 1,
	SOCKLB_LOG_INFO = 2,
	SOCKLB_LOG_DEBUG = 3,
};

/* prog: prefix of every line; file may be NULL; stderr on or off. */
void socklb_log_init(const char *prog, enum socklb_log_level level, FILE *file, bool to_stderr);
/* "error", "warn", "info", "debug" → level; -1 when unknown. */
int socklb_log_level_parse(const char *s);
void socklb_log(enum socklb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool socklb_log_enabled(enum socklb_log_level level);
/*
 * While on, libbpf's warnings from the calling thread are debug lines: for a
 * probe, where a program that does not load is a result, not a problem.
 */
void socklb_log_libbpf_quiet(bool on);

#define pr_err(...) socklb_log(SOCKLB_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) socklb_log(SOCKLB_LOG_WARN, __VA_ARGS__)
#define pr_info(...) socklb_log(SOCKLB_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) socklb_log(SOCKLB_LOG_DEBUG, __VA_ARGS__)

#endif /* SOCKLB_LOG_H */
