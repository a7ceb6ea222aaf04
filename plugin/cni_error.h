/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI errors: every error the plugin can return, in one table, and the error
 * value a verb fills in and main prints as the CNI error JSON on stdout.
 *
 *  code  meaning                                         returned by
 *  ----  ----------------------------------------------  ---------------------
 *     1  incompatible CNI version                        any verb but VERSION
 *     4  invalid environment variable (CNI_*, CNI_ARGS)  any verb
 *     5  I/O failure (reading stdin)                     any verb
 *     6  stdin is not a JSON object                      any verb but VERSION
 *     7  invalid network configuration (names the key)   any verb but VERSION
 *    11  try again later (a transient kernel error)       ADD, DEL, CHECK, GC
 *   100  the pod cgroup could not be found or opened     ADD, CHECK
 *   101  the bpffs root is unusable                      ADD, DEL, CHECK, GC
 *   102  the datapath programs could not be loaded       ADD, CHECK
 *   103  linking the programs to the pod cgroup failed   ADD
 *   104  removing an attachment (or old programs) failed  DEL, GC
 *   105  the attachment is missing, defunct or foreign   CHECK
 *   107  internal error (out of memory)                  any verb
 *
 * ADD and CHECK return 7 and 100-105 for an opted-in pod only, and only
 * under failurePolicy Fail (failure_policy.h). STATUS logs what is missing
 * and never fails (verb_status.c). 106 (the namespace opt-in map could not
 * be read) is logged, never returned: the pod may not have opted in.
 */
#ifndef SOCKLB_PLUGIN_CNI_ERROR_H
#define SOCKLB_PLUGIN_CNI_ERROR_H

enum cni_code {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN = 11,
	SOCKLB_ERR_CGROUP = 100,
	SOCKLB_ERR_BPFFS = 101,
	SOCKLB_ERR_PROGRAMS = 102,
	SOCKLB_ERR_ATTACH = 103,
	SOCKLB_ERR_DETACH = 104,
	SOCKLB_ERR_CHECK = 105,
	SOCKLB_ERR_NAMESPACE_MAP = 106,
	SOCKLB_ERR_INTERNAL = 107,
};

#define CNI_ERROR_MSG_LEN 256
#define CNI_ERROR_DETAILS_LEN 2048

struct cni_error {
	int code; /* 0 = no error */
	char msg[CNI_ERROR_MSG_LEN]; /* short: what failed */
	char details[CNI_ERROR_DETAILS_LEN]; /* why, on which object, what was tried */
};

/*
 * Record an error (the first one wins: a clean-up failing after the real
 * error does not hide it) and return -1, so that `return cni_fail(...)` ends
 * the failing step. details may be NULL.
 */
int cni_fail(struct cni_error *err, int code, const char *msg, const char *details_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A transient kernel error (EAGAIN, EBUSY, EINTR) becomes "try again later"
 * (11), anything else the given code.
 */
int cni_code_for_errno(int negative_errno, int code);

/* The CNI error JSON ({cniVersion, code, msg, details}), newline-terminated; NULL when out of memory. */
char *cni_error_json(const struct cni_error *err, const char *cni_version);

#endif /* SOCKLB_PLUGIN_CNI_ERROR_H */
