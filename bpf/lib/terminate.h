/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket termination: when a backend leaves a service, destroy the client
 * sockets of opted-in pods that are still connected to it through that
 * service's VIP, and only those. The application sees ECONNABORTED on its
 * next receive (EDESTADDRREQ on its next send on UDP) and reconnects through
 * the VIP to a live backend.
 *
 * A method is two parts, each needing its own kernel facility:
 *   find     the network namespaces that may hold a doomed socket
 *     records  an iterator over the socket records of every namespace
 *              (iter/bpf_sk_storage_map, 5.9): exactly those namespaces
 *     tasks    an iterator over every process's open files (iter/task_file
 *              with bpf_sock_from_file, 5.11): those with a socket whose
 *              peer is a removed backend
 *     pods     every attached pod's namespace (no iterator)
 *   destroy  in each of them, the sockets whose record names a removed backend
 *     bpf      TCP and UDP socket iterators calling bpf_sock_destroy (6.5)
 *     diag     sock_diag's SOCK_DESTROY of exactly those sockets, named by
 *              their identity (cookie included) by the records finder or by
 *              TCP and UDP socket iterators (CONFIG_INET_DIAG_DESTROY)
 * Every method also enters pods' network namespaces (cgroup v2,
 * open_by_handle_at, setns). The choice is made once, by probing: the
 * cheapest method whose parts load here.
 *
 * The library the daemon calls (what term.bpf.c shares with it is in
 * socklb.h). Functions return 0 or a negative errno; on failure they write
 * what they were doing, on which object, and the errno text into why, for
 * the caller to report. Only socklb_term_run logs (its outcome line).
 */
#ifndef SOCKLB_TERMINATE_H
#define SOCKLB_TERMINATE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "socklb.h"

/* Room for a why text. */
#define SOCKLB_TERM_WHY_LEN 256

/* Cheapest first: the order in which the automatic choice tries them. */
enum socklb_term_method {
	SOCKLB_TERM_OFF,
	SOCKLB_TERM_RECORDS_BPF,
	SOCKLB_TERM_RECORDS_DIAG,
	SOCKLB_TERM_TASKS_BPF,
	SOCKLB_TERM_TASKS_DIAG,
	SOCKLB_TERM_PODS_BPF,
	SOCKLB_TERM_PODS_DIAG,
	SOCKLB_TERM_METHODS,
};

/* "records+bpf", ..., "pods+diag"; "off". */
const char *socklb_term_method_name(enum socklb_term_method m);
/* A method name or "off"; -EINVAL otherwise. */
int socklb_term_method_parse(const char *name, enum socklb_term_method *m);

/* What the probe tries: one entry per facility a method may need. */
enum socklb_term_part {
	SOCKLB_TERM_PART_NETNS, /* enter pods' network namespaces: every method */
	SOCKLB_TERM_PART_RECORDS, /* find: the socket records iterator */
	SOCKLB_TERM_PART_TASKS, /* find: the open files iterator */
	SOCKLB_TERM_PART_BPF, /* destroy: socket iterators with bpf_sock_destroy */
	SOCKLB_TERM_PART_IDS, /* diag: socket iterators naming the doomed sockets (tasks and pods) */
	SOCKLB_TERM_PART_DIAG, /* diag: SOCK_DESTROY over NETLINK_SOCK_DIAG */
	SOCKLB_TERM_PARTS,
};

/* "netns", "records", "tasks", "bpf", "ids", "diag". */
const char *socklb_term_part_name(enum socklb_term_part p);

struct socklb_term_probe {
	int err[SOCKLB_TERM_PARTS]; /* 0: works here; else a negative errno */
	char why[SOCKLB_TERM_PARTS][SOCKLB_TERM_WHY_LEN]; /* on failure: what was tried and the errno text */
};

/*
 * Try every part on this kernel with these privileges: load (and attach) each
 * program, destroy a socket of our own with SOCK_DESTROY, enter our own
 * network namespace. It changes nothing: with the socket records map pinned
 * under root, the programs share it; without, they get a private one. No
 * daemon needed.
 * Returns 0 (the verdicts are in p) or a negative errno when it could not
 * run at all (-ENOMEM).
 */
int socklb_term_probe(const char *root, struct socklb_term_probe *p);

/* 0 when every part of m works per p; else that part's error, and why names the part. */
int socklb_term_method_check(const struct socklb_term_probe *p, enum socklb_term_method m, char *why, size_t len);

/*
 * The cheapest method p allows, or SOCKLB_TERM_OFF; why says what ruled out
 * the cheaper ones (or "every part it needs works here").
 */
enum socklb_term_method socklb_term_method_choose(const struct socklb_term_probe *p, char *why, size_t len);

/* One backend that left one service. */
struct socklb_term_target {
	__u32 svc_id; /* struct socklb_svc.id of the service the backend left */
	__be32 backend[4]; /* as struct socklb_endpoint.addr (IPv4 v4-mapped) */
	__u16 backend_port; /* host byte order, as struct socklb_endpoint.port */
	__u8 protocols; /* SOCKLB_TERM_UDP and/or SOCKLB_TERM_TCP */
};

/* Per target: sockets destroyed, and sockets the kernel refused to destroy. */
struct socklb_term_result {
	__u32 destroyed;
	__u32 failed;
};

struct socklb_term;

/*
 * Get ready to terminate with method m (not SOCKLB_TERM_OFF): load its
 * programs, sharing the socket records map pinned under root (the
 * datapath's maps must exist: socklb_maps_open creates them).
 */
int socklb_term_open(const char *root, enum socklb_term_method m, struct socklb_term **out, char *why, size_t len);

enum socklb_term_method socklb_term_method(const struct socklb_term *t);

/*
 * Destroy the sockets of opted-in pods connected through a VIP to one of the
 * targets. res (n entries, may be NULL) receives the counts per target; when
 * two targets are equal, the first one gets the counts. A namespace that
 * fails does not spare the others: the first error is returned (why names
 * it), the counts hold what was done. Logs one line (at debug level when
 * nothing was destroyed). Not thread-safe: one run at a time per handle.
 */
int socklb_term_run(struct socklb_term *t, const struct socklb_term_target *targets, size_t n,
		    struct socklb_term_result *res, char *why, size_t len);

void socklb_term_close(struct socklb_term *t);

/* ---- parts, exposed for the unit tests ------------------------------------ */

/* The doomed map entry of a target; -EINVAL when protocols is empty or unknown. */
int socklb_term_key_build(const struct socklb_term_target *target, struct socklb_term_key *key);

/*
 * Count the destroying iterators' output: one line "INDEX ERR" per socket they
 * tried to destroy (ERR: what bpf_sock_destroy returned). Adds to res[INDEX];
 * -EBADMSG on a malformed line or an INDEX outside [0, n). Returns the number
 * of lines otherwise.
 */
int socklb_term_parse(const char *buf, size_t len, struct socklb_term_result *res, size_t n);

/* Mount point of the cgroup v2 hierarchy, read from a mountinfo file; -ENOENT if none. */
int socklb_term_cgroup2_mount(const char *mountinfo_path, char *buf, size_t len);

/* "service 7: 3 (10.244.0.21:5353 2, 10.244.0.22:5353 1), service 9: ..." for the log line. */
void socklb_term_summary(const struct socklb_term_target *targets, const struct socklb_term_result *res, size_t n,
			 char *buf, size_t len);

#endif /* SOCKLB_TERMINATE_H */
