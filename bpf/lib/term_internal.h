/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the termination library (terminate.c, term_*.c): the parts a method
 * is made of. One run, per batch of targets:
 *   the doomed set          term_doomed.c  the batch, one entry per key, into the maps
 *   find the namespaces     term_bpf.c     records or tasks iterator, or
 *                           term_netns.c   every attached pod's namespace
 *   open them               term_netns.c   from the pods' pinned links
 *   destroy in each         term_bpf.c     socket iterators + bpf_sock_destroy, or
 *                           term_diag.c    SOCK_DESTROY of the sockets the records
 *                                          iterator or the ids iterators name
 * from a helper thread that enters each namespace (term_netns.c). Functions
 * return 0 or a negative errno and, on failure, write into why what they were
 * doing; nothing here logs an error.
 */
#ifndef SOCKLB_TERM_INTERNAL_H
#define SOCKLB_TERM_INTERNAL_H

#include <limits.h>
#include <linux/inet_diag.h>
#include <sys/types.h>

#include "term.h"
#include "terminate.h"

/* why = "<fmt...>: <errno text>"; returns err (a negative errno). */
int term_fail(char *why, size_t len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- the doomed set (term_doomed.c) ------------------------------------------ */

struct term_doomed_entry {
	struct socklb_term_key key;
	__u32 index; /* the first target with this key */
	__u32 protocols; /* SOCKLB_TERM_* of every target with this key */
};

/* One entry per key: the doomed map's contents. */
struct term_doomed {
	struct term_doomed_entry *e;
	size_t n;
	__u32 protocols; /* of all entries */
};

/* Targets [from, to); -EINVAL for a target socklb_term_key_build refuses. */
int term_doomed_build(struct term_doomed *d, const struct socklb_term_target *targets, size_t from, size_t to);
void term_doomed_free(struct term_doomed *d);

/* ---- sockets the iterators name (term_bpf.c) ------------------------------------- */

struct term_socks {
	struct socklb_term_sock *e;
	size_t n, cap;
};

/* Append the struct socklb_term_sock records of an iterator's output; -EBADMSG when len is not whole records. */
int term_socks_parse(const void *buf, size_t len, struct term_socks *s);
void term_socks_free(struct term_socks *s);

/* ---- network namespaces (term_netns.c) ------------------------------------------ */

struct term_netns {
	ino_t ino;
	__u32 protocols; /* SOCKLB_TERM_* to destroy in it */
	int fd; /* -1 until a process in it is found */
};

struct term_netns_list {
	struct term_netns *e;
	size_t n, cap;
	size_t opened;
};

/* Add a namespace worth walking for protocols (merged when listed already). */
int term_netns_want(struct term_netns_list *l, ino_t ino, __u32 protocols);
void term_netns_list_free(struct term_netns_list *l);

/* The pods our links are attached to: <root>/links/<attachment>/<hook>. */
struct term_pods {
	int cgroup_mount_fd;
	char cgroup_mount[PATH_MAX];
	char links_dir[PATH_MAX];
};

int term_pods_init(struct term_pods *p, const char *root, char *why, size_t len);
void term_pods_release(struct term_pods *p);

/*
 * Open the listed namespaces from the processes of the attached pods (those
 * of no attached pod stay closed); with every != 0, also list and open every
 * attached pod's namespace, for these protocols.
 */
int term_pods_open(const struct term_pods *p, struct term_netns_list *l, __u32 every, char *why, size_t len);

/* What this process needs to enter pods' namespaces: open_by_handle_at on a cgroup, setns. */
int term_netns_probe(const struct term_pods *p, char *why, size_t len);

/* fn in each opened namespace, from a helper thread; the others are walked when one fails. */
typedef int (*term_netns_fn)(const struct term_netns *ns, void *ctx, char *why, size_t len);
int term_netns_each(const struct term_netns_list *l, term_netns_fn fn, void *ctx, char *why, size_t len);

/* ---- BPF programs (term_bpf.c) --------------------------------------------------- */

/* Which programs of term.bpf.c to load. */
#define TERM_BPF_RECORDS 0x1 /* find: socklb_term_records */
#define TERM_BPF_TASKS 0x2 /* find: socklb_term_tasks */
#define TERM_BPF_DESTROY 0x4 /* destroy: socklb_term_tcp and socklb_term_udp (bpf_sock_destroy) */
#define TERM_BPF_IDS 0x8 /* name the doomed sockets: socklb_ids_tcp and socklb_ids_udp */

struct term_bpf;

/*
 * Load the programs (none: only the maps), sharing the socket records map
 * pinned under root; with private_records, a private one when none is pinned
 * (a probe).
 */
int term_bpf_open(const char *root, unsigned int progs, bool private_records, struct term_bpf **out, char *why,
		  size_t len);
void term_bpf_close(struct term_bpf *b);

/* Put d in the maps the loaded programs read; clear takes it out again. */
int term_bpf_fill(struct term_bpf *b, const struct term_doomed *d, char *why, size_t len);
void term_bpf_clear(struct term_bpf *b, const struct term_doomed *d);

/*
 * Run the loaded finder: the namespaces it names go to l, the sockets it
 * prints to found (the records finder's carry their identity).
 */
int term_bpf_find(const struct term_bpf *b, struct term_netns_list *l, struct term_socks *found, char *why, size_t len);

/* In the calling thread's namespace: destroy with the bpf_sock_destroy iterators for protocols; adds to res. */
int term_bpf_destroy(const struct term_bpf *b, __u32 protocols, struct socklb_term_result *res, size_t n, char *why,
		     size_t len);

/* In the calling thread's namespace: the doomed sockets of protocols, named by the ids iterators. */
int term_bpf_ids(const struct term_bpf *b, __u32 protocols, struct term_socks *out, char *why, size_t len);

/* ---- sock_diag (term_diag.c) ------------------------------------------------------ */

/*
 * In the calling thread's namespace (its inode: netns): SOCK_DESTROY each of
 * socks in it, by its exact identity; adds to res[index]. A socket closed or
 * re-connected elsewhere meanwhile is not found by that identity: neither
 * destroyed nor failed.
 */
int term_diag_destroy(const struct term_socks *socks, __u32 netns, struct socklb_term_result *res, size_t n, char *why,
		      size_t len);

/* SOCK_DESTROY of a socket of our own, in our own namespace. */
int term_diag_probe(char *why, size_t len);

/* The SOCK_DESTROY request body for s (exposed for the unit tests). */
void term_diag_request(const struct socklb_term_sock *s, struct inet_diag_req_v2 *r);

#endif /* SOCKLB_TERM_INTERNAL_H */
