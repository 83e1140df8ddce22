/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ISATAP (RFC 5214) link type of umigame.ko: the rtnetlink interface.
 *
 * A link of kind UMIGAME_ISATAP_KIND is created with stock iproute2; its
 * IPv4 address (the locator, RFC 5214 §6.2) is the link's own address:
 *
 *	ip link add isa0 address 192.0.2.10 type umigame-isatap
 *
 * (IFLA_ADDRESS, 4 bytes: iproute2 parses a dotted quad as a 4-byte link
 * address). iproute2 cannot pass IFLA_INFO_DATA for a kind it does not know,
 * so the Potential Router List is set with tools/umigame-isatap, which sends
 * RTM_NEWLINK with the attributes below (at creation or on an existing link:
 * the list given replaces the link's list).
 *
 * IFLA_INFO_DATA:
 *   UMIGAME_ISATAP_A_PRL      nested: UMIGAME_ISATAP_A_PRL_ENTRY, repeated
 *     UMIGAME_ISATAP_A_PRL_ENTRY  nested: UMIGAME_ISATAP_PRL_A_*
 *       UMIGAME_ISATAP_PRL_A_ADDR  __be32, the router's IPv4 address
 */
#ifndef UMIGAME_ISATAP_H
#define UMIGAME_ISATAP_H

#define UMIGAME_ISATAP_KIND "umigame-isatap"
/* Routers in one link's PRL, at most. */
#define UMIGAME_ISATAP_PRL_MAX 16

enum umigame_isatap_attr {
	UMIGAME_ISATAP_A_UNSPEC,
	UMIGAME_ISATAP_A_PRL,       /* nested PRL_ENTRY list */
	UMIGAME_ISATAP_A_PRL_ENTRY, /* only inside UMIGAME_ISATAP_A_PRL */
	__UMIGAME_ISATAP_A_MAX,
};
#define UMIGAME_ISATAP_A_MAX (__UMIGAME_ISATAP_A_MAX - 1)

enum umigame_isatap_prl_attr {
	UMIGAME_ISATAP_PRL_A_UNSPEC,
	UMIGAME_ISATAP_PRL_A_ADDR, /* __be32 */
	__UMIGAME_ISATAP_PRL_A_MAX,
};
#define UMIGAME_ISATAP_PRL_A_MAX (__UMIGAME_ISATAP_PRL_A_MAX - 1)

#endif /* UMIGAME_ISATAP_H */
