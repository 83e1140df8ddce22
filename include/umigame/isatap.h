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
 * so the Potential Router List is set with `umigame isatap prl`, which sends
 * RTM_NEWLINK with the attributes below (at creation or on an existing link:
 * the list given replaces the link's list).
 *
 * IFLA_INFO_DATA:
 *   UMIGAME_ISATAP_A_PRL      nested: UMIGAME_ISATAP_A_PRL_ENTRY, repeated
 *     UMIGAME_ISATAP_A_PRL_ENTRY  nested: UMIGAME_ISATAP_PRL_A_*
 *       ADDR        __be32, the router's IPv4 address
 *       LIFETIME    u32 seconds the entry stays in the list (0: for ever);
 *                   in dumps, the seconds left
 *       STATE       u8, dumps only: enum umigame_isatap_rtr_state
 *       RTR_LIFETIME u32, dumps only: the router lifetime of its last RA
 *       RS_SENT, RA_RCVD  u32, dumps only: unicast RSs sent to it, RAs from it
 *
 * The module solicits every PRL router itself (RFC 5214 §8.3.4): unicast
 * RSs to its ISATAP link-local address, up to UMIGAME_ISATAP_MAX_RS at
 * UMIGAME_ISATAP_RS_INTERVAL; an RA makes it REACHABLE and schedules the
 * next RS at 3/4 of its router lifetime (UMIGAME_ISATAP_MIN_RS_INTERVAL
 * when the router is not a default router); a round of RSs without an RA
 * makes it UNREACHABLE, retried every UMIGAME_ISATAP_RETRY_INTERVAL.
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
	UMIGAME_ISATAP_PRL_A_ADDR,         /* __be32 */
	UMIGAME_ISATAP_PRL_A_LIFETIME,     /* u32 seconds, 0: no end */
	UMIGAME_ISATAP_PRL_A_STATE,        /* u8, dumps only */
	UMIGAME_ISATAP_PRL_A_RTR_LIFETIME, /* u32 seconds, dumps only */
	UMIGAME_ISATAP_PRL_A_RS_SENT,      /* u32, dumps only */
	UMIGAME_ISATAP_PRL_A_RA_RCVD,      /* u32, dumps only */
	__UMIGAME_ISATAP_PRL_A_MAX,
};
#define UMIGAME_ISATAP_PRL_A_MAX (__UMIGAME_ISATAP_PRL_A_MAX - 1)

enum umigame_isatap_rtr_state {
	UMIGAME_ISATAP_RTR_SOLICIT = 1, /* RSs sent, no RA yet */
	UMIGAME_ISATAP_RTR_REACHABLE,   /* its last round of RSs was answered */
	UMIGAME_ISATAP_RTR_UNREACHABLE, /* a round of RSs went unanswered */
	UMIGAME_ISATAP_RTR_EXPIRED,     /* the entry's lifetime is over */
};

/* Solicitation timing (seconds; RFC 4861 §10 for the first two). */
#define UMIGAME_ISATAP_MAX_RS 3
#define UMIGAME_ISATAP_RS_INTERVAL 4
#define UMIGAME_ISATAP_MIN_RS_INTERVAL 120
#define UMIGAME_ISATAP_RETRY_INTERVAL 60

#endif /* UMIGAME_ISATAP_H */
