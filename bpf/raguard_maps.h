/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The RA guard's policy and counter maps and the port's policy lookup, one
 * definition for the guard (bpf/raguard.bpf.c, which pins the maps by name)
 * and for its bench lower bounds (bpf/raguard_floor.bpf.c, which defines
 * RAGUARD_MAP_PINNING as LIBBPF_PIN_NONE and is handed the guard's maps). Layouts and the update
 * scheme are in include/umigame/raguard.h.
 */
#ifndef UMIGAME_BPF_RAGUARD_MAPS_H
#define UMIGAME_BPF_RAGUARD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "umigame/raguard.h"

#ifndef RAGUARD_MAP_PINNING
#define RAGUARD_MAP_PINNING LIBBPF_PIN_BY_NAME
#endif

/* ifindex -> port reference; written by the CLI with atomic stores. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_RAGUARD_MAX_IFINDEX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64); /* mmap()ed arrays space elements 8 bytes apart */
	__uint(pinning, RAGUARD_MAP_PINNING);
} rag_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UMIGAME_RAG_POLICY_COPIES);
	__type(key, __u32);
	__type(value, struct umigame_raguard_policy);
	__uint(pinning, RAGUARD_MAP_PINNING);
} rag_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (UMIGAME_RAGUARD_MAX_PORTS + 1) * UMIGAME_RAG_REASON_COUNT);
	__type(key, __u32);
	__type(value, struct umigame_raguard_counter);
	__uint(pinning, RAGUARD_MAP_PINNING);
} rag_counters SEC(".maps");

/* The policy in force on a port, or NULL (no policy, or none yet). */
static __always_inline const struct umigame_raguard_policy *port_policy(__u32 ifindex)
{
	__u64 *ref = bpf_map_lookup_elem(&rag_ports, &ifindex);
	__u32 copy;

	if (!ref)
		return NULL;
	copy = *(volatile __u64 *)ref; /* one load: the CLI flips it under us */
	if (!copy)
		return NULL;
	copy -= 1;
	return bpf_map_lookup_elem(&rag_policies, &copy);
}

#endif /* UMIGAME_BPF_RAGUARD_MAPS_H */
