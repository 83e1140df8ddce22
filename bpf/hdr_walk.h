/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The header walk the XDP programs share (bpf/raguard.bpf.c,
 * bpf/classify.bpf.c): bounded packet reads, up to two 802.1Q/802.1ad tags,
 * and the IPv6 extension-header chain (RFC 8200 §4, RFC 6564's uniform
 * format, AH's 4-octet units, one fragment header).
 *
 * Everything is __always_inline and keeps its state in the caller's
 * registers: the RA guard's cost per packet and its verifier complexity were
 * tuned with this code inline, and a BPF-to-BPF call costs ~8 ns on the bench
 * host. The walk returns a status; each program turns it into its own
 * reasons, which clang folds into the branches, so the shared walk compiles
 * to what a private copy would.
 */
#ifndef UMIGAME_BPF_HDR_WALK_H
#define UMIGAME_BPF_HDR_WALK_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Offsets past this are not trusted by the verifier's range tracking; no
 * Ethernet frame we judge is longer. */
#define MAX_PARSE_OFFSET 4096

/* Extension headers walked before the walk gives up (RFC 7112 makes longer
 * chains suspect; the RA guard's UMIGAME_RAGUARD_MAX_EXT_HDRS is the same). */
#define UMIGAME_WALK_MAX_EXT_HDRS 8

#define ETH_P_8021Q_BE  bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_IPV6_BE   bpf_htons(ETH_P_IPV6)
#define ETH_P_IP_BE     bpf_htons(ETH_P_IP)

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-octet units << 3 | M */
	__be32 identification;
};

/* The one way these programs read the packet at a computed offset: the bound
 * on off keeps the verifier's range tracking, the end check keeps us honest.
 * Whether it fits comes back apart from the pointer, so that a hot caller
 * branches once on it rather than again on a NULL pointer (the compiler
 * cannot see through the launder below to drop that test). */
static __always_inline int pkt_at(void *data, void *data_end, __u64 off, __u32 size, __u8 **out)
{
	void *p;

	if (off > MAX_PARSE_OFFSET)
		return 0;
	p = data + off;
	/* Opaque from here on: otherwise clang may recompute data + off for
	 * the caller's access, a pointer the verifier has not range-checked. */
	asm volatile("" : "+r"(p));
	if (p + size > data_end)
		return 0;
	*out = p;
	return 1;
}

static __always_inline void *pkt_ptr(void *data, void *data_end, __u64 off, __u32 size)
{
	__u8 *p;

	return pkt_at(data, data_end, off, size, &p) ? p : NULL;
}

/*
 * Up to two VLAN tags (802.1Q and 802.1ad, QinQ) after the Ethernet header.
 * On entry *proto is the Ethernet type and *off the offset after it; on
 * return they describe the frame behind the tags. *vlan gets the outer VLAN
 * id (left alone when untagged; vlan may be NULL). Returns 0, or -1 on a
 * truncated tag.
 */
static __always_inline int walk_vlans(void *data, void *data_end, __u64 *off, __be16 *proto,
				      __u32 *vlan)
{
	int i;

#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_hdr *vh;

		if (*proto != ETH_P_8021Q_BE && *proto != ETH_P_8021AD_BE)
			break;
		vh = pkt_ptr(data, data_end, *off, sizeof(*vh));
		if (!vh)
			return -1;
		if (i == 0 && vlan) /* NULL: the caller wants no id */
			*vlan = bpf_ntohs(vh->tci) & 0x0fff;
		*proto = vh->encap_proto;
		*off += sizeof(*vh);
	}
	return 0;
}

/* Headers in the RFC 6564 uniform format (next header, length in 8-octet
 * units after the first 8): hop-by-hop, routing, destination options,
 * Mobility, HIP, Shim6 and the RFC 3692 experimental values. */
static __always_inline int is_uniform_ext(__u8 nh)
{
	if (nh < 64)
		return (((1ULL << IPPROTO_HOPOPTS) | (1ULL << IPPROTO_ROUTING) |
			 (1ULL << IPPROTO_DSTOPTS)) >> nh) & 1;
	return nh == IPPROTO_MH || nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

/* Whether nh is a header the chain walk steps over. */
static __always_inline int is_ext_hdr(__u8 nh)
{
	return is_uniform_ext(nh) || nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT;
}

enum walk_status {
	WALK_UPPER,      /* *off is the upper-layer header, *nh its protocol */
	WALK_TRUNCATED,  /* an extension header runs off the packet */
	WALK_BAD_FRAG,   /* a truncated fragment header, or a second one */
	WALK_NONFIRST,   /* a non-first fragment (offset != 0): no upper layer here */
	WALK_TOO_LONG,   /* more than UMIGAME_WALK_MAX_EXT_HDRS extension headers */
	WALK_FAR,        /* the upper layer lies past MAX_PARSE_OFFSET */
};

/*
 * Walk the IPv6 extension-header chain from *off (the header after the fixed
 * IPv6 header) with *nh its type, to the upper-layer header (RFC 7113 §3
 * item 2: the whole chain, not only the first header). *fragment becomes 1
 * when a fragment header with offset 0 (a first or an atomic fragment) was
 * crossed; the caller must have zeroed it. Each header costs one bounds
 * check of its first two bytes: the walk only moves forward, so a header
 * that runs off the packet is caught by the next read.
 */
static __always_inline enum walk_status walk_ipv6_ext(void *data, void *data_end, __u64 *off,
						      __u8 *nh, __u32 *fragment)
{
	int i;

	/* Unrolled: Linux 6.1's CFG check refuses a loop whose back-edge clang
	 * lays out as a fall-through ("back-edge from insn …"). */
#pragma unroll
	for (i = 0; i < UMIGAME_WALK_MAX_EXT_HDRS; i++) {
		__u8 *eh;

		if (is_uniform_ext(*nh) || *nh == IPPROTO_AH) {
			eh = pkt_ptr(data, data_end, *off, 2);
			if (!eh)
				return WALK_TRUNCATED;
			/* AH (RFC 4302 §2.2) counts 4-octet units, minus 2. */
			*off += *nh == IPPROTO_AH ? ((__u64)eh[1] + 2) * 4 : ((__u64)eh[1] + 1) * 8;
			*nh = eh[0];
			continue;
		}
		if (*nh == IPPROTO_FRAGMENT) {
			struct frag_hdr *fh = pkt_ptr(data, data_end, *off, sizeof(*fh));

			if (!fh || *fragment)
				return WALK_BAD_FRAG; /* truncated, or two */
			if (bpf_ntohs(fh->frag_off) & ~7U)
				return WALK_NONFIRST;
			*fragment = 1;
			*off += sizeof(*fh);
			*nh = fh->nexthdr;
			continue;
		}
		break;
	}
	if (is_ext_hdr(*nh))
		return WALK_TOO_LONG;
	if (*off > MAX_PARSE_OFFSET)
		return WALK_FAR;
	return WALK_UPPER;
}

#endif
