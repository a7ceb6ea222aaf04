/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Trace events for `socklb-syncd trace`: one per translation while a tracer
 * runs (socklb.h: struct socklb_trace_ctl). With no tracer, a translation
 * pays one array lookup and one load; with a dead one's deadline left
 * behind, one clock read more.
 */
#ifndef SOCKLB_TRACE_BPF_H
#define SOCKLB_TRACE_BPF_H

#include "lb.bpf.h"

/* Set by the loader after probing: cgroup/sock_addr programs may ask for the current task (6.1+). */
const volatile bool have_current_task = false;

/* The control word while a tracer's deadline is ahead, with the time read in *now; NULL otherwise. */
static __always_inline struct socklb_trace_ctl *trace_on(__u64 *now)
{
	struct socklb_trace_ctl *ctl;
	__u32 zero = 0;

	ctl = bpf_map_lookup_elem(&socklb_trctl_v1, &zero);
	if (!ctl || !ctl->until_ns)
		return NULL;
	*now = bpf_ktime_get_ns();
	return *now < ctl->until_ns ? ctl : NULL;
}

/* be is all zero for a refusal. */
static __always_inline void trace_emit(__u8 hook, __u8 verdict, __u8 proto, const struct socklb_sockaddr *vip,
				       const struct socklb_sockaddr *be)
{
	struct socklb_trace_event *ev;
	struct socklb_trace_ctl *ctl;
	__u64 now = 0;

	ctl = trace_on(&now);
	if (!ctl)
		return;
	ev = bpf_ringbuf_reserve(&socklb_trace_v1, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&ctl->lost, 1);
		return;
	}
	ev->time_ns = now;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	addr_copy(ev->vip, vip->addr);
	ev->vip_port = vip->port;
	addr_copy(ev->backend, be->addr);
	ev->backend_port = be->port;
	ev->proto = proto;
	ev->verdict = verdict;
	ev->hook = hook;
	ev->pad = 0;
	ev->pad2 = 0;
	if (have_current_task) {
		ev->pid = (__u32)(bpf_get_current_pid_tgid() >> 32);
		/* without a task the helper zeroes the name itself */
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	} else {
		ev->pid = 0;
		__builtin_memset(ev->comm, 0, sizeof(ev->comm));
	}
	bpf_ringbuf_submit(ev, 0);
}

#endif /* SOCKLB_TRACE_BPF_H */
