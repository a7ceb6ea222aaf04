/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What this node's kernel and this process allow socklb to do, found by
 * trying (loading a minimal program, creating a map and closing it), never
 * from a version number. `socklb-syncd status` prints these; the datapath
 * loader asks socklb_probe_set_retval and socklb_probe_current_task.
 *
 * A probe returns 0 when the facility is there, or the negative errno the
 * kernel answered, with why (an error context, err.h; may be NULL) saying
 * what was tried and what the kernel said. -EPERM may mean this process lacks a capability, not that the
 * kernel lacks the facility. Nothing here logs, pins, attaches, or leaves
 * anything behind.
 */
#ifndef SOCKLB_PROBE_H
#define SOCKLB_PROBE_H

#include <limits.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct btf;
/* The kernel's own BTF (/sys/kernel/btf/vmlinux), parsed; free it with btf__free(). */
int socklb_probe_btf(struct btf **vmlinux, struct socklb_err *why);

/* A minimal cgroup/sock_addr program of this attach type (cgroup/connect4, ...) loads. */
int socklb_probe_hook(enum bpf_attach_type attach_type, struct socklb_err *why);

/*
 * bpf_link on cgroups (BPF_LINK_CREATE): asked with a probe program and no
 * cgroup, so nothing is attached. A kernel that has the command looks up the
 * cgroup and answers EBADF; one without it refuses the command itself.
 */
int socklb_probe_cgroup_link(struct socklb_err *why);

/* bpf_set_retval from cgroup/connect programs: refusals can say ECONNREFUSED instead of EPERM. */
int socklb_probe_set_retval(struct socklb_err *why);

/* bpf_get_current_pid_tgid and bpf_get_current_comm from cgroup/connect programs: trace events name the process. */
int socklb_probe_current_task(struct socklb_err *why);

/* Socket storage: the map type, and bpf_sk_storage_get from cgroup/sock_addr programs. */
int socklb_probe_sk_storage(struct socklb_err *why);

/* A minimal iterator program of this target ("tcp", "udp", "bpf_sk_storage_map", "task") loads. */
int socklb_probe_iter(const struct btf *vmlinux, const char *target, struct socklb_err *why);

/* The bpf_sock_destroy kfunc is in the kernel's BTF, and an iter/udp program calling it loads. */
int socklb_probe_sock_destroy(const struct btf *vmlinux, struct socklb_err *why);

/*
 * This build's datapath object loads (all its programs, through the
 * verifier), with private one-entry maps that are neither pinned nor shared.
 */
int socklb_probe_datapath(struct socklb_err *why);

/* What is pinned under a bpffs root. */
struct socklb_pins {
	bool root_exists; /* false: nothing pinned yet (its parent is on bpffs) */
	int maps_err; /* 0: every map pinned; -ENOENT: not (all) pinned; or why they cannot be opened */
	__u32 services, max_services; /* frontends */
	__u64 backends; /* slots in use, of all frontends */
	__u32 max_backends;
	size_t builds; /* datapath builds under <root>/prog */
	bool this_build; /* this build's among them (socklb_datapath_id()) */
	char other_builds[256]; /* the others' ids, ", "-separated */
	size_t pods; /* attachment directories under <root>/links */
	size_t pods_gone; /* of which linked to a cgroup that is gone */
	size_t pods_broken; /* of which without a readable connect4 link */
};

/*
 * Read what is pinned under root, changing nothing: -ENOTSUP when root is not
 * on a bpffs mount, or the errno of listing it.
 */
int socklb_probe_pins(const char *root, struct socklb_pins *out, struct socklb_err *why);

/*
 * BPF memory is charged to the memory cgroup, not to RLIMIT_MEMLOCK (so
 * CAP_SYS_RESOURCE to raise that limit is not needed): a child process with
 * RLIMIT_MEMLOCK 0 can still create a map. -EPERM when the kernel charges
 * RLIMIT_MEMLOCK.
 */
int socklb_probe_memcg_charge(struct socklb_err *why);

/* This process's effective capabilities: bit n for capability n (CAP_BPF, ... from <linux/capability.h>). */
int socklb_probe_caps(__u64 *effective, struct socklb_err *why);

#endif /* SOCKLB_PROBE_H */
