/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * PIM-SM Register encapsulation in umigame.ko (RFC 7761 §4.4.1, §4.9.3):
 * the interface between the module and userspace (`umigame pim`).
 *
 *   link     `ip link add NAME type umigame-pimreg`: a device that ip6mr
 *            takes as an ordinary MIF. What ip6mr forwards to it leaves as a
 *            PIM Register to the RP of the packet's group, unicast from the
 *            DR's address. A header-only packet (payload length 0, as a
 *            routing daemon writes one to the device through a packet
 *            socket) leaves as a Null-Register (N bit), for the daemon's
 *            Register-Stop timer.
 *   genl     family UMIGAME_PIM_GENL_NAME (CAP_NET_ADMIN), per network
 *            namespace: a device's source address, rate limit and Border
 *            bit, and its group ranges with their RPs; GET for those and
 *            the counters.
 *
 * Plain UAPI types: the module and userspace include the same header.
 */
#ifndef UMIGAME_PIM_H
#define UMIGAME_PIM_H

#include <linux/types.h>

#define UMIGAME_PIM_KIND         "umigame-pimreg"
#define UMIGAME_PIM_GENL_NAME    "umigame_pim"
#define UMIGAME_PIM_GENL_VERSION 1

/* Group ranges (each with its RP) per device. */
#define UMIGAME_PIM_MAX_RPS 64

/* The Register's headers: outer IPv6 and the 8-byte Register header. */
#define UMIGAME_PIM_ENCAP_LEN (40 + 8)

enum umigame_pim_cmd {
	UMIGAME_PIM_CMD_UNSPEC,
	UMIGAME_PIM_CMD_SET,    /* IFINDEX; SOURCE, RATE, FLAGS: those given change */
	UMIGAME_PIM_CMD_RP_ADD, /* IFINDEX, GROUP, PREFIX_LEN, RP: add, or replace the
	                         * range's RP */
	UMIGAME_PIM_CMD_RP_DEL, /* IFINDEX, GROUP, PREFIX_LEN */
	UMIGAME_PIM_CMD_GET,    /* IFINDEX, or NLM_F_DUMP for every device of the
	                         * namespace: settings, ranges, counters */
	__UMIGAME_PIM_CMD_MAX,
};
#define UMIGAME_PIM_CMD_MAX (__UMIGAME_PIM_CMD_MAX - 1)

enum umigame_pim_attr {
	UMIGAME_PIM_A_UNSPEC,
	UMIGAME_PIM_A_IFINDEX,     /* u32: an umigame-pimreg device */
	UMIGAME_PIM_A_SOURCE,      /* binary, 16 bytes: the Registers' source (a
	                            * unicast address of the DR); :: = chosen by
	                            * the route to the RP */
	UMIGAME_PIM_A_RATE,        /* u32: Registers per second, 0 = no limit */
	UMIGAME_PIM_A_FLAGS,       /* u32: UMIGAME_PIM_F_* */
	UMIGAME_PIM_A_GROUP,       /* binary, 16 bytes: a group range's prefix */
	UMIGAME_PIM_A_PREFIX_LEN,  /* u8: its length, 8..128 (ff00::/8 and within) */
	UMIGAME_PIM_A_RP,          /* binary, 16 bytes: the range's RP, unicast */
	UMIGAME_PIM_A_RP_LIST,     /* nested (GET): RP_ENTRY, each GROUP, PREFIX_LEN, RP */
	UMIGAME_PIM_A_RP_ENTRY,
	UMIGAME_PIM_A_IFNAME,      /* string (GET) */
	UMIGAME_PIM_A_PAD,
	/* u64 counters (GET) */
	UMIGAME_PIM_A_TX_REGISTERS,      /* Registers sent (data) */
	UMIGAME_PIM_A_TX_NULL_REGISTERS, /* Null-Registers sent */
	UMIGAME_PIM_A_TX_BYTES,          /* bytes of the Registers sent, outer headers included */
	UMIGAME_PIM_A_DROP_NO_RP,        /* the group is in no range */
	UMIGAME_PIM_A_DROP_RATE,         /* over the rate limit */
	UMIGAME_PIM_A_DROP_TOO_BIG,      /* larger than the path to the RP allows:
	                                  * ICMPv6 Packet Too Big sent to the source */
	UMIGAME_PIM_A_DROP_NO_ROUTE,     /* no route or source address towards the RP */
	UMIGAME_PIM_A_DROP_BAD,          /* not an IPv6 multicast packet, or no room */
	__UMIGAME_PIM_A_MAX,
};
#define UMIGAME_PIM_A_MAX (__UMIGAME_PIM_A_MAX - 1)

/* RFC 7761 §4.9.3: the Border bit, set by a PIM Multicast Border Router
 * registering sources from outside the domain. */
#define UMIGAME_PIM_F_BORDER (1U << 0)
#define UMIGAME_PIM_F_ALL    UMIGAME_PIM_F_BORDER

#endif /* UMIGAME_PIM_H */
