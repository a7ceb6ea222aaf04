/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket termination: when a backend leaves a service, destroy the client
 * sockets of opted-in pods that are still connected to it through that
 * service's VIP, and only those (kernel >= 6.5: BPF socket iterators with the
 * bpf_sock_destroy kfunc). The application sees ECONNABORTED on its next
 * receive (EDESTADDRREQ on its next send on UDP) and reconnects through the
 * VIP to a live backend.
 *
 * The library the daemon calls (what term.bpf.c shares with it is in socklb.h).
 * Functions return 0 or a negative errno.
 */
#ifndef SOCKLB_TERMINATE_H
#define SOCKLB_TERMINATE_H

#include <linux/types.h>
#include <stddef.h>

#include "socklb.h"

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
 * Load the termination programs, sharing the socket records map pinned under
 * root (the datapath's maps must exist: socklb_maps_open creates them).
 * -EOPNOTSUPP when the kernel lacks bpf_sock_destroy (logged once per process).
 */
int socklb_term_open(const char *root, struct socklb_term **out);

/*
 * Destroy the sockets of opted-in pods connected through a VIP to one of the
 * targets. res (n entries, may be NULL) receives the counts per target; when
 * two targets are equal, the first one gets the counts. Logs one line (at
 * debug level when nothing was destroyed). Not thread-safe: one run at a time
 * per handle.
 */
int socklb_term_run(struct socklb_term *t, const struct socklb_term_target *targets, size_t n,
		    struct socklb_term_result *res);

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
