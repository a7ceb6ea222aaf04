/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error context, one convention for the plugin, the daemon and the
 * library: a function that fails returns a negative errno and, when its
 * caller passed a context, says in it what it was doing, on which object, and
 * the errno text ("cannot create /sys/fs/bpf/socklb/prog: Not a directory").
 * Nothing below the edge logs what it returns: the edge (a command's main,
 * the CNI error JSON, a thread that runs on its own) reports it, once.
 */
#ifndef SOCKLB_ERR_H
#define SOCKLB_ERR_H

#include <assert.h>
#include <errno.h>

#define SOCKLB_ERR_MSG_LEN 1024

struct socklb_err {
	int code; /* negative errno; 0: none */
	char msg[SOCKLB_ERR_MSG_LEN];
};

/* Fill e (NULL: the caller wants no message) with code and the formatted message. */
void socklb_err_set(struct socklb_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Put "<formatted>: " before e's message: the caller's context around the callee's. */
void socklb_err_prefix(struct socklb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * For a function with error paths that fill no context (out of memory in a
 * helper): clear e first, and at the end fill it with the formatted message
 * if code is an error and nothing said why. Returns code.
 */
void socklb_err_clear(struct socklb_err *e);
int socklb_err_fallback(struct socklb_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Fill e and evaluate to code, computed before the message so that an errno
 * the message reads is still the failing call's. A macro, not a function:
 * the analyzers then see that an error path returns code, never 0.
 */
#define socklb_fail(e, code, ...)                                    \
	({                                                           \
		int socklb_fail_code_ = (code);                      \
		socklb_err_set((e), socklb_fail_code_, __VA_ARGS__); \
		socklb_fail_code_;                                   \
	})

/* errno as a negative code, never 0: a failed call must not read as success. */
static inline int socklb_errno(void)
{
	int e = errno, ret = e > 0 ? -e : -EIO;

	/* Always true; it tells the static analyzer, which cannot negate a range, that ret is not 0. */
	assert(ret < 0);
	return ret;
}

#endif /* SOCKLB_ERR_H */
