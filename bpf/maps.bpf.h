/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath's maps. Variable names are the pin names in socklb.h; every
 * map but the socket storage is pinned by name under the bpffs root and
 * shared by the plugin's programs and the daemon. Sizes here are defaults:
 * userspace sets the real ones when it first creates the maps.
 */
#ifndef SOCKLB_MAPS_BPF_H
#define SOCKLB_MAPS_BPF_H

#include "socklb.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_SERVICES);
	__type(key, struct socklb_svc_key);
	__type(value, struct socklb_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_svc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_BACKENDS);
	__type(key, struct socklb_backend_key);
	__type(value, struct socklb_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_be_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_AFFINITY);
	__type(key, struct socklb_affinity_key);
	__type(value, struct socklb_affinity);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_aff_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCKLB_DEFAULT_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct socklb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_stat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct socklb_sock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_sock_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SOCKLB_MAX_NAMESPACES);
	__type(key, struct socklb_ns_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_ns_v1 SEC(".maps");

/*
 * Tracing: the control word (struct socklb_trace_ctl), mapped by the tracer
 * so that it stores until_ns alone, never over a lost count a program just
 * added; and the events.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct socklb_trace_ctl);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_trctl_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SOCKLB_TRACE_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socklb_trace_v1 SEC(".maps");

#endif /* SOCKLB_MAPS_BPF_H */
