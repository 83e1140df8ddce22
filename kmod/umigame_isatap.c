// SPDX-License-Identifier: GPL-2.0
/*
 * umigame.ko: the ISATAP link type (RFC 5214), "umigame-isatap".
 *
 *	ip link add isa0 address 192.0.2.10 type umigame-isatap
 *	umigame isatap prl isa0 192.0.2.1            # the Potential Router List
 *
 * The link's own 4-byte address is its IPv4 locator. The device is of type
 * ARPHRD_SIT with IFF_ISATAP, so the kernel's addrconf gives it the
 * link-local address fe80::0:5efe:a.b.c.d, or fe80::200:5efe:a.b.c.d when
 * the IPv4 address is global (RFC 5214 §6.1, §6.2: the u bit), and does not
 * send multicast Router Solicitations on it.
 *
 * Transmit (§7.1): the IPv4 destination is the IPv4 address embedded in the
 * ISATAP interface identifier of the packet's next hop (the gateway of its
 * route, or the destination when on-link); anything else is dropped and
 * counted. The IPv6 packet goes out in IPv4 protocol 41 from the link's
 * address.
 *
 * Receive (§7.3): protocol-41 packets to the link's IPv4 address in the
 * link's namespace are ours. They are accepted when their IPv4 source is in
 * the PRL (a router: its RAs are then processed as a default router's), or
 * when the IPv6 source is an ISATAP address on a prefix of the link whose
 * embedded IPv4 address is the IPv4 source (a host); everything else is
 * dropped and counted (a spoofed source). Packets for no link of ours go on
 * to the next protocol-41 handler (sit), so both work side by side.
 *
 * Per network namespace: each namespace keeps its own list of links (a
 * pernet_operations area, with the namespace's netfilter hook that takes
 * protocol-41 packets for its links); a link cannot move to another
 * namespace.
 *
 * Counters per link: /sys/kernel/debug/umigame/isatap, and the link's own
 * statistics (`ip -s link`: rx errors for spoofed sources, tx errors for
 * next hops that are not ISATAP addresses or have no IPv4 route).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include <net/addrconf.h>
#include <net/dst_cache.h>
#include <net/if_inet6.h>
#include <net/ndisc.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ip_tunnels.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/rtnetlink.h>
#include <net/route.h>

#include "umigame/isatap.h"

#include "compat.h"
#include "umigame.h"
#include "umigame_trace.h"

/* A PRL entry: its address and lifetime are fixed, the rest under ->lock. */
struct umigame_isatap_rtr {
	__be32 addr;
	unsigned long expires; /* jiffies, 0: never */
	u8 state;              /* enum umigame_isatap_rtr_state */
	u8 rs_left;            /* RSs left in this round */
	unsigned long next_rs; /* jiffies */
	u32 rtr_lifetime;      /* seconds, from its last RA */
	u32 rs_sent;
	u32 ra_rcvd;
};

struct umigame_isatap_prl {
	struct rcu_head rcu;
	unsigned int n;
	struct umigame_isatap_rtr r[];
};

struct umigame_isatap {
	struct list_head list; /* umigame_isatap_net.links, RCU */
	struct net_device *dev;
	__be32 local;
	bool listed;
	struct umigame_isatap_prl __rcu *prl; /* replaced under RTNL and ->lock */
	spinlock_t lock;                      /* the entries' solicitation state */
	struct delayed_work work;             /* solicits the PRL, every second */
	atomic_long_t rx_ok;
	atomic_long_t rx_spoofed;   /* §7.3 source checks failed */
	atomic_long_t rx_bad;       /* could not be decapsulated */
	atomic_long_t tx_ok;
	atomic_long_t tx_not_isatap; /* next hop has no ISATAP identifier */
	atomic_long_t tx_no_route;  /* no IPv4 route to the next hop */
	atomic_long_t tx_bad;       /* not IPv6, no headroom, ... */
	/* The IPv4 route of the last next hop sent to, per CPU (a host
	 * talks to its router over and over), and which next hop that is. */
	struct dst_cache route_cache;
	__be32 __percpu *route_cache_for;
};

struct umigame_isatap_net {
	struct list_head links; /* writers hold RTNL */
};

static unsigned int umigame_isatap_net_id __read_mostly;
static struct dentry *umigame_isatap_debugfs;

static struct umigame_isatap_net *umigame_isatap_net(struct net *net)
{
	return net_generic(net, umigame_isatap_net_id);
}

/* ::0:5efe:a.b.c.d or ::200:5efe:a.b.c.d (the u bit set, §6.1). */
static bool umigame_isatap_addr(const struct in6_addr *a)
{
	return (a->s6_addr32[2] | htonl(0x02000000)) == htonl(0x02005efe);
}

static bool umigame_isatap_expired(const struct umigame_isatap_rtr *e)
{
	return e->expires && time_after_eq(jiffies, e->expires);
}

/* The live PRL entry for v4, or NULL (under RCU). */
static struct umigame_isatap_rtr *umigame_isatap_in_prl(struct umigame_isatap *t, __be32 v4)
{
	struct umigame_isatap_prl *prl = rcu_dereference(t->prl);
	unsigned int i;

	for (i = 0; prl && i < prl->n; i++)
		if (prl->r[i].addr == v4 && !umigame_isatap_expired(&prl->r[i]))
			return &prl->r[i];
	return NULL;
}

/*
 * The u bit of an ISATAP interface identifier (RFC 5214 §6.1): set for an
 * IPv4 address known to be global. The same ranges as the kernel's addrconf
 * (which forms our own link-local address), so that the link-local address
 * we solicit a router at is the one its sit or umigame link has.
 */
static void umigame_isatap_lladdr_of(struct in6_addr *a, __be32 v4)
{
	bool local = ipv4_is_zeronet(v4) || ipv4_is_private_10(v4) ||
		     ipv4_is_loopback(v4) || ipv4_is_linklocal_169(v4) ||
		     ipv4_is_private_172(v4) || ipv4_is_test_192(v4) ||
		     ipv4_is_anycast_6to4(v4) || ipv4_is_private_192(v4) ||
		     ipv4_is_test_198(v4) || ipv4_is_multicast(v4) ||
		     ipv4_is_lbcast(v4);

	memset(a, 0, sizeof(*a));
	a->s6_addr32[0] = htonl(0xfe800000);
	a->s6_addr32[2] = htonl(local ? 0x00005efe : 0x02005efe);
	a->s6_addr32[3] = v4;
}

/* ---- transmit ---------------------------------------------------------- */

static netdev_tx_t umigame_isatap_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct umigame_isatap *t = netdev_priv(dev);
	const struct in6_addr *nh;
	const struct ipv6hdr *ip6h;
	struct dst_entry *dst;
	__be32 dst4, *cached_for;
	struct flowi4 fl4;
	struct rtable *rt;
	u8 ttl;

	if (skb->protocol != htons(ETH_P_IPV6) ||
	    !pskb_may_pull(skb, sizeof(struct ipv6hdr)))
		goto bad;
	ip6h = ipv6_hdr(skb);
	nh = &ip6h->daddr;
	dst = skb_dst(skb);
	if (dst && dst->ops->family == AF_INET6)
		nh = rt6_nexthop(container_of(dst, struct rt6_info, dst), &ip6h->daddr);
	if (!umigame_isatap_addr(nh) || ipv6_addr_is_multicast(nh)) {
		atomic_long_inc(&t->tx_not_isatap);
		trace_isatap_drop(dev_net(dev), dev->ifindex, t->local, 0,
				  UMIGAME_ISATAP_DROP_NOT_ISATAP);
		goto err;
	}
	dst4 = nh->s6_addr32[3];

	/* The xmit runs with BH off: this CPU's cache entry stays ours. The
	 * cache drops a route the FIB has changed since. */
	cached_for = this_cpu_ptr(t->route_cache_for);
	rt = *cached_for == dst4 ? dst_cache_get_ip4(&t->route_cache, &fl4.saddr) : NULL;
	if (!rt) {
		rt = ip_route_output_ports(dev_net(dev), &fl4, NULL, dst4, t->local,
					   0, 0, IPPROTO_IPV6, 0, 0);
		if (IS_ERR(rt)) {
			atomic_long_inc(&t->tx_no_route);
			trace_isatap_drop(dev_net(dev), dev->ifindex, t->local, dst4,
					  UMIGAME_ISATAP_DROP_NO_ROUTE);
			goto err;
		}
		if (rt->dst.dev == dev || rt->rt_type != RTN_UNICAST) {
			/* A route back into ourselves, or broadcast/multicast. */
			ip_rt_put(rt);
			atomic_long_inc(&t->tx_no_route);
			trace_isatap_drop(dev_net(dev), dev->ifindex, t->local, dst4,
					  UMIGAME_ISATAP_DROP_NO_ROUTE);
			goto err;
		}
		dst_cache_set_ip4(&t->route_cache, &rt->dst, fl4.saddr);
		*cached_for = dst4;
	}
	if (skb_cow_head(skb, LL_RESERVED_SPACE(rt->dst.dev) + sizeof(struct iphdr)) ||
	    iptunnel_handle_offloads(skb, SKB_GSO_IPXIP4)) {
		ip_rt_put(rt);
		goto bad;
	}
	skb_set_inner_ipproto(skb, IPPROTO_IPV6);
	ttl = ip4_dst_hoplimit(&rt->dst);
	atomic_long_inc(&t->tx_ok);
	/* No DF: the IPv4 network may fragment (RFC 4213 §3.2, static MTU). */
	iptunnel_xmit(NULL, rt, skb, fl4.saddr, dst4, IPPROTO_IPV6, 0, ttl, 0, false);
	return NETDEV_TX_OK;

bad:
	atomic_long_inc(&t->tx_bad);
	trace_isatap_drop(dev_net(dev), dev->ifindex, t->local, 0, UMIGAME_ISATAP_DROP_TX_BAD);
err:
	DEV_STATS_INC(dev, tx_errors);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

/* ---- receive ----------------------------------------------------------- */

static struct umigame_isatap *umigame_isatap_find(struct net *net, __be32 local)
{
	struct umigame_isatap *t;

	list_for_each_entry_rcu(t, &umigame_isatap_net(net)->links, list)
		if (t->local == local && netif_running(t->dev))
			return t;
	return NULL;
}

/* Seconds to jiffies, for a solicitation deadline. */
static unsigned long umigame_isatap_secs(u32 secs)
{
	return (unsigned long)secs * HZ;
}

/*
 * An RA from a PRL router (§8.3.3): the router answered. The kernel's ndisc
 * does the rest (prefixes, default route) when the packet goes up; here only
 * the next unicast RS is scheduled, at 3/4 of the router lifetime.
 */
static void umigame_isatap_note_ra(struct umigame_isatap *t, struct umigame_isatap_rtr *rtr,
				   struct sk_buff *skb, unsigned int hlen)
{
	const struct ipv6hdr *ip6h;
	const struct ra_msg *ra;
	u32 life, next;

	if (!pskb_may_pull(skb, hlen + sizeof(*ip6h) + sizeof(*ra)))
		return;
	ip6h = (const struct ipv6hdr *)(skb_network_header(skb) + hlen);
	ra = (const struct ra_msg *)(ip6h + 1);
	if (ra->icmph.icmp6_type != NDISC_ROUTER_ADVERTISEMENT || ra->icmph.icmp6_code ||
	    ip6h->hop_limit != 255 || !(ipv6_addr_is_ll_all_nodes(&ip6h->daddr) ||
					(ipv6_addr_type(&ip6h->daddr) & IPV6_ADDR_UNICAST)))
		return;
	life = ntohs(ra->icmph.icmp6_rt_lifetime);
	next = life ? life * 3 / 4 : UMIGAME_ISATAP_MIN_RS_INTERVAL;
	if (next < UMIGAME_ISATAP_RS_INTERVAL)
		next = UMIGAME_ISATAP_RS_INTERVAL;
	spin_lock(&t->lock);
	rtr->state = UMIGAME_ISATAP_RTR_REACHABLE;
	rtr->rtr_lifetime = life;
	rtr->ra_rcvd++;
	rtr->rs_left = UMIGAME_ISATAP_MAX_RS;
	rtr->next_rs = jiffies + umigame_isatap_secs(next);
	spin_unlock(&t->lock);
	trace_isatap_ra(dev_net(t->dev), t->dev->ifindex, rtr->addr, life);
}

/* A usable (not tentative) link-local address of the link. */
static bool umigame_isatap_our_lladdr(struct net_device *dev, struct in6_addr *out)
{
	struct inet6_ifaddr *ifp;
	struct inet6_dev *idev;
	bool found = false;

	rcu_read_lock();
	idev = __in6_dev_get(dev);
	if (idev) {
		read_lock_bh(&idev->lock);
		list_for_each_entry(ifp, &idev->addr_list, if_list) {
			if (ifp->scope == IFA_LINK &&
			    !(ifp->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))) {
				*out = ifp->addr;
				found = true;
				break;
			}
		}
		read_unlock_bh(&idev->lock);
	}
	rcu_read_unlock();
	return found;
}

/* A unicast RS to the router's ISATAP link-local address (§8.3.4). */
static void umigame_isatap_send_rs(struct net_device *dev, const struct in6_addr *src, __be32 v4)
{
	unsigned int hroom = LL_RESERVED_SPACE(dev);
	struct icmp6hdr *icmp;
	struct ipv6hdr *ip6h;
	struct sk_buff *skb;

	skb = alloc_skb(hroom + sizeof(*ip6h) + sizeof(*icmp) + dev->needed_tailroom, GFP_KERNEL);
	if (!skb)
		return;
	skb_reserve(skb, hroom);
	skb_reset_network_header(skb);
	ip6h = skb_put(skb, sizeof(*ip6h));
	ip6_flow_hdr(ip6h, 0, 0);
	ip6h->payload_len = htons(sizeof(*icmp));
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = 255;
	ip6h->saddr = *src;
	umigame_isatap_lladdr_of(&ip6h->daddr, v4);
	skb_reset_transport_header(skb);
	icmp = skb_put_zero(skb, sizeof(*icmp));
	icmp->icmp6_type = NDISC_ROUTER_SOLICITATION;
	icmp->icmp6_cksum = csum_ipv6_magic(&ip6h->saddr, &ip6h->daddr, sizeof(*icmp),
					    IPPROTO_ICMPV6,
					    csum_partial(icmp, sizeof(*icmp), 0));
	skb->protocol = htons(ETH_P_IPV6);
	skb->dev = dev;
	dev_queue_xmit(skb);
}

/* Every second while the link exists: the RSs that are due. */
static void umigame_isatap_work(struct work_struct *work)
{
	struct umigame_isatap *t = container_of(to_delayed_work(work),
						struct umigame_isatap, work);
	__be32 to[UMIGAME_ISATAP_PRL_MAX];
	struct umigame_isatap_prl *prl;
	struct umigame_isatap_rtr *e;
	unsigned long now = jiffies;
	unsigned int i, n = 0;
	struct in6_addr src;

	if (!netif_running(t->dev) || !umigame_isatap_our_lladdr(t->dev, &src))
		goto again;
	spin_lock_bh(&t->lock);
	prl = rcu_dereference_protected(t->prl, lockdep_is_held(&t->lock));
	for (i = 0; prl && i < prl->n; i++) {
		e = &prl->r[i];
		if (umigame_isatap_expired(e) || time_before(now, e->next_rs))
			continue;
		if (!e->rs_left) {
			/* A whole round of RSs and no RA: the router is gone. */
			if (e->state != UMIGAME_ISATAP_RTR_UNREACHABLE)
				pr_info("%s: ISATAP router %pI4 does not answer\n",
					t->dev->name, &e->addr);
			trace_isatap_router_unreachable(dev_net(t->dev), t->dev->ifindex,
							e->addr, e->rs_sent);
			e->state = UMIGAME_ISATAP_RTR_UNREACHABLE;
			e->rs_left = UMIGAME_ISATAP_MAX_RS;
			e->next_rs = now + umigame_isatap_secs(UMIGAME_ISATAP_RETRY_INTERVAL);
			continue;
		}
		e->rs_left--;
		e->rs_sent++;
		e->next_rs = now + umigame_isatap_secs(UMIGAME_ISATAP_RS_INTERVAL);
		trace_isatap_rs(dev_net(t->dev), t->dev->ifindex, e->addr, e->rs_sent);
		to[n++] = e->addr;
	}
	spin_unlock_bh(&t->lock);
	for (i = 0; i < n; i++)
		umigame_isatap_send_rs(t->dev, &src, to[i]);
again:
	schedule_delayed_work(&t->work, HZ);
}

/*
 * The protocol-41 hook: netfilter LOCAL_IN in every namespace, last in line
 * (after the firewall and reassembly). Not tunnel4: an out-of-tree module
 * cannot take tunnel4's hook without a hard dependency on it (symbol_get()
 * refuses its non-GPL exports), and inet_add_protocol(41) is refused once
 * tunnel4 (sit) holds protocol 41.
 */
static unsigned int umigame_isatap_nf_in(void *priv, struct sk_buff *skb,
					 const struct nf_hook_state *state)
{
	const struct ipv6hdr *ip6h;
	const struct iphdr *iph;
	struct umigame_isatap_rtr *rtr;
	struct umigame_isatap *t;
	struct net_device *dev;
	unsigned int hlen;

	iph = ip_hdr(skb);
	if (iph->protocol != IPPROTO_IPV6)
		return NF_ACCEPT;
	t = umigame_isatap_find(state->net, iph->daddr);
	if (!t)
		return NF_ACCEPT; /* not ours: sit's, or nobody's */
	dev = t->dev;
	hlen = ip_hdrlen(skb);
	if (!pskb_may_pull(skb, hlen + sizeof(struct ipv6hdr))) {
		atomic_long_inc(&t->rx_bad);
		iph = ip_hdr(skb); /* a failed pull may have moved the head */
		trace_isatap_drop(state->net, dev->ifindex, iph->saddr, iph->daddr,
				  UMIGAME_ISATAP_DROP_RX_BAD);
		DEV_STATS_INC(dev, rx_length_errors);
		return NF_DROP;
	}
	iph = ip_hdr(skb);
	ip6h = (const struct ipv6hdr *)(skb_network_header(skb) + hlen);

	/* RFC 5214 §7.3: the IPv4 source must fit the IPv6 source. */
	rtr = umigame_isatap_in_prl(t, iph->saddr);
	if (rtr) {
#if IS_ENABLED(CONFIG_IPV6_NDISC_NODETYPE)
		skb->ndisc_nodetype = NDISC_NODETYPE_DEFAULT;
#endif
		if (ip6h->nexthdr == IPPROTO_ICMPV6)
			umigame_isatap_note_ra(t, rtr, skb, hlen);
	} else if (umigame_isatap_addr(&ip6h->saddr) &&
		   ip6h->saddr.s6_addr32[3] == iph->saddr &&
		   ipv6_chk_prefix(&ip6h->saddr, dev)) {
#if IS_ENABLED(CONFIG_IPV6_NDISC_NODETYPE)
		skb->ndisc_nodetype = NDISC_NODETYPE_HOST;
#endif
	} else {
		net_dbg_ratelimited("%s: spoofed %pI4/%pI6c dropped\n",
				    dev->name, &iph->saddr, &ip6h->saddr);
		atomic_long_inc(&t->rx_spoofed);
		trace_isatap_drop(state->net, dev->ifindex, iph->saddr, iph->daddr,
				  UMIGAME_ISATAP_DROP_SPOOFED);
		DEV_STATS_INC(dev, rx_errors);
		return NF_DROP;
	}

	/* note_ra() may have moved the headers: only skb and hlen from here. */
	skb->dev = dev;
	if (iptunnel_pull_header(skb, hlen, htons(ETH_P_IPV6), false)) {
		atomic_long_inc(&t->rx_bad);
		trace_isatap_drop(state->net, dev->ifindex, 0, t->local,
				  UMIGAME_ISATAP_DROP_RX_BAD);
		DEV_STATS_INC(dev, rx_errors);
		kfree_skb(skb);
		return NF_STOLEN;
	}
	skb_reset_network_header(skb);
	skb_reset_mac_header(skb);
	skb->pkt_type = PACKET_HOST;
	dev_sw_netstats_rx_add(dev, skb->len);
	atomic_long_inc(&t->rx_ok);
	netif_rx(skb);
	return NF_STOLEN;
}

static const struct nf_hook_ops umigame_isatap_nf_ops = {
	.hook = umigame_isatap_nf_in,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_IN,
	.priority = NF_IP_PRI_LAST,
};

/* ---- the device ---------------------------------------------------------- */

static int umigame_isatap_dev_init(struct net_device *dev)
{
	struct umigame_isatap *t = netdev_priv(dev);

	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;
	t->route_cache_for = alloc_percpu(__be32);
	if (!t->route_cache_for || dst_cache_init(&t->route_cache, GFP_KERNEL)) {
		free_percpu(t->route_cache_for);
		t->route_cache_for = NULL;
		free_percpu(dev->tstats);
		dev->tstats = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void umigame_isatap_dev_uninit(struct net_device *dev)
{
	struct umigame_isatap *t = netdev_priv(dev);

	cancel_delayed_work_sync(&t->work);
	if (t->listed) {
		list_del_rcu(&t->list);
		t->listed = false;
	}
}

static void umigame_isatap_dev_free(struct net_device *dev)
{
	struct umigame_isatap *t = netdev_priv(dev);

	kfree(rcu_dereference_protected(t->prl, 1));
	dst_cache_destroy(&t->route_cache);
	free_percpu(t->route_cache_for);
	free_percpu(dev->tstats);
}

static const struct net_device_ops umigame_isatap_netdev_ops = {
	.ndo_init = umigame_isatap_dev_init,
	.ndo_uninit = umigame_isatap_dev_uninit,
	.ndo_start_xmit = umigame_isatap_xmit,
	.ndo_get_stats64 = dev_get_tstats64,
};

static void umigame_isatap_setup(struct net_device *dev)
{
	dev->netdev_ops = &umigame_isatap_netdev_ops;
	dev->needs_free_netdev = true;
	dev->priv_destructor = umigame_isatap_dev_free;
	dev->type = ARPHRD_SIT;
	dev->flags = IFF_NOARP;
	dev->priv_flags |= IFF_ISATAP;
	dev->addr_len = 4;
	dev->needed_headroom = LL_MAX_HEADER + sizeof(struct iphdr);
	dev->mtu = ETH_DATA_LEN - sizeof(struct iphdr);
	dev->min_mtu = IPV6_MIN_MTU;
	dev->max_mtu = IP_MAX_MTU - sizeof(struct iphdr);
	/* As sit: no qdisc to pass through, no queue lock (the xmit keeps
	 * only atomic counters). */
	dev->priv_flags |= IFF_NO_QUEUE;
	umigame_netdev_lltx(dev);
	umigame_netdev_pin_netns(dev);
	netif_keep_dst(dev);
}

/* ---- rtnetlink ----------------------------------------------------------- */

static const struct nla_policy umigame_isatap_prl_policy[UMIGAME_ISATAP_PRL_A_MAX + 1] = {
	[UMIGAME_ISATAP_PRL_A_ADDR] = { .type = NLA_BE32 },
	[UMIGAME_ISATAP_PRL_A_LIFETIME] = { .type = NLA_U32 },
	[UMIGAME_ISATAP_PRL_A_STATE] = { .type = NLA_REJECT },
	[UMIGAME_ISATAP_PRL_A_RTR_LIFETIME] = { .type = NLA_REJECT },
	[UMIGAME_ISATAP_PRL_A_RS_SENT] = { .type = NLA_REJECT },
	[UMIGAME_ISATAP_PRL_A_RA_RCVD] = { .type = NLA_REJECT },
};

static const struct nla_policy umigame_isatap_policy[UMIGAME_ISATAP_A_MAX + 1] = {
	[UMIGAME_ISATAP_A_PRL] = { .type = NLA_NESTED },
	[UMIGAME_ISATAP_A_PRL_ENTRY] = { .type = NLA_REJECT },
};

static bool umigame_isatap_v4_unicast(__be32 a)
{
	return !ipv4_is_zeronet(a) && !ipv4_is_multicast(a) &&
	       !ipv4_is_lbcast(a) && !ipv4_is_loopback(a);
}

/* Parses UMIGAME_ISATAP_A_PRL into a new list (NULL when there is none). */
static int umigame_isatap_parse_prl(struct nlattr *data[], struct umigame_isatap_prl **out,
				    struct netlink_ext_ack *extack)
{
	struct nlattr *tb[UMIGAME_ISATAP_PRL_A_MAX + 1];
	struct umigame_isatap_prl *prl;
	struct umigame_isatap_rtr *r;
	struct nlattr *e;
	int rem, ret;
	u32 life;
	__be32 a;

	*out = NULL;
	if (!data || !data[UMIGAME_ISATAP_A_PRL])
		return 0;
	prl = kzalloc(struct_size(prl, r, UMIGAME_ISATAP_PRL_MAX), GFP_KERNEL);
	if (!prl)
		return -ENOMEM;
	nla_for_each_nested(e, data[UMIGAME_ISATAP_A_PRL], rem) {
		ret = -EINVAL;
		if (nla_type(e) != UMIGAME_ISATAP_A_PRL_ENTRY) {
			NL_SET_ERR_MSG_ATTR(extack, e, "a PRL holds PRL_ENTRY attributes only");
			goto err;
		}
		ret = nla_parse_nested(tb, UMIGAME_ISATAP_PRL_A_MAX, e,
				       umigame_isatap_prl_policy, extack);
		if (ret < 0)
			goto err;
		ret = -EINVAL;
		if (!tb[UMIGAME_ISATAP_PRL_A_ADDR]) {
			NL_SET_ERR_MSG_ATTR(extack, e, "a PRL entry needs its IPv4 address");
			goto err;
		}
		a = nla_get_be32(tb[UMIGAME_ISATAP_PRL_A_ADDR]);
		if (!umigame_isatap_v4_unicast(a)) {
			NL_SET_ERR_MSG_ATTR(extack, e, "a PRL entry must be a unicast IPv4 address");
			goto err;
		}
		if (prl->n == UMIGAME_ISATAP_PRL_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, e, "too many PRL entries");
			goto err;
		}
		life = tb[UMIGAME_ISATAP_PRL_A_LIFETIME] ?
		       nla_get_u32(tb[UMIGAME_ISATAP_PRL_A_LIFETIME]) : 0;
		if (life > INT_MAX / HZ) {
			NL_SET_ERR_MSG_ATTR(extack, e, "PRL entry lifetime too long");
			goto err;
		}
		r = &prl->r[prl->n++];
		r->addr = a;
		r->expires = life ? (jiffies + umigame_isatap_secs(life)) | 1 : 0;
		r->state = UMIGAME_ISATAP_RTR_SOLICIT;
		r->rs_left = UMIGAME_ISATAP_MAX_RS;
		r->next_rs = jiffies;
	}
	*out = prl;
	return 0;

err:
	kfree(prl);
	return ret;
}

static int umigame_isatap_validate(struct nlattr *tb[], struct nlattr *data[],
				   struct netlink_ext_ack *extack)
{
	if (tb[IFLA_ADDRESS]) {
		if (nla_len(tb[IFLA_ADDRESS]) != 4) {
			NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_ADDRESS],
					    "the link's address is its IPv4 address (a.b.c.d)");
			return -EINVAL;
		}
		if (!umigame_isatap_v4_unicast(nla_get_in_addr(tb[IFLA_ADDRESS]))) {
			NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_ADDRESS],
					    "the link's IPv4 address must be unicast");
			return -EINVAL;
		}
	}
	return 0;
}

static int umigame_isatap_newlink(struct net *src_net, struct net_device *dev,
				  struct nlattr *tb[], struct nlattr *data[],
				  struct netlink_ext_ack *extack)
{
	struct umigame_isatap *t = netdev_priv(dev);
	struct umigame_isatap_net *in = umigame_isatap_net(dev_net(dev));
	struct umigame_isatap_prl *prl;
	struct umigame_isatap *o;
	int ret;

	if (!tb[IFLA_ADDRESS]) {
		NL_SET_ERR_MSG(extack, "an ISATAP link needs its IPv4 address: "
			       "ip link add NAME address A.B.C.D type " UMIGAME_ISATAP_KIND);
		return -EINVAL;
	}
	t->dev = dev;
	t->local = nla_get_in_addr(tb[IFLA_ADDRESS]);
	spin_lock_init(&t->lock);
	INIT_DELAYED_WORK(&t->work, umigame_isatap_work);
	list_for_each_entry(o, &in->links, list) {
		if (o->local == t->local) {
			NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_ADDRESS],
					    "another ISATAP link has this IPv4 address");
			return -EEXIST;
		}
	}
	ret = umigame_isatap_parse_prl(data, &prl, extack);
	if (ret < 0)
		return ret;
	ret = register_netdevice(dev);
	if (ret < 0) {
		kfree(prl);
		return ret;
	}
	RCU_INIT_POINTER(t->prl, prl);
	list_add_rcu(&t->list, &in->links);
	t->listed = true;
	schedule_delayed_work(&t->work, 0);
	return 0;
}

static int umigame_isatap_changelink(struct net_device *dev, struct nlattr *tb[],
				     struct nlattr *data[], struct netlink_ext_ack *extack)
{
	struct umigame_isatap *t = netdev_priv(dev);
	struct umigame_isatap_prl *prl, *old;
	unsigned int i, j;
	unsigned long life;
	int ret;

	if (tb[IFLA_ADDRESS] && nla_get_in_addr(tb[IFLA_ADDRESS]) != t->local) {
		NL_SET_ERR_MSG_ATTR(extack, tb[IFLA_ADDRESS],
				    "the IPv4 address of an ISATAP link is fixed at creation");
		return -EOPNOTSUPP;
	}
	if (!data || !data[UMIGAME_ISATAP_A_PRL])
		return 0;
	ret = umigame_isatap_parse_prl(data, &prl, extack);
	if (ret < 0)
		return ret;
	spin_lock_bh(&t->lock);
	old = rcu_dereference_protected(t->prl, lockdep_is_held(&t->lock));
	/* A router that stays keeps what is known of it. */
	for (i = 0; prl && old && i < prl->n; i++) {
		for (j = 0; j < old->n; j++) {
			if (old->r[j].addr != prl->r[i].addr)
				continue;
			life = prl->r[i].expires;
			prl->r[i] = old->r[j];
			prl->r[i].expires = life;
		}
	}
	rcu_assign_pointer(t->prl, prl);
	spin_unlock_bh(&t->lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

/* Seconds left of an entry's lifetime: 0 for none, at least 1 while it lasts. */
static u32 umigame_isatap_left(const struct umigame_isatap_rtr *r)
{
	if (!r->expires)
		return 0;
	if (umigame_isatap_expired(r))
		return 1; /* shown as EXPIRED by its state */
	return max_t(u32, 1, DIV_ROUND_UP(r->expires - jiffies, HZ));
}

static u8 umigame_isatap_state(const struct umigame_isatap_rtr *r)
{
	return umigame_isatap_expired(r) ? UMIGAME_ISATAP_RTR_EXPIRED : r->state;
}

static const char *const umigame_isatap_state_names[] = {
	[UMIGAME_ISATAP_RTR_SOLICIT] = "solicit",
	[UMIGAME_ISATAP_RTR_REACHABLE] = "reachable",
	[UMIGAME_ISATAP_RTR_UNREACHABLE] = "unreachable",
	[UMIGAME_ISATAP_RTR_EXPIRED] = "expired",
};

static size_t umigame_isatap_get_size(const struct net_device *dev)
{
	return nla_total_size(0) + /* PRL */
	       UMIGAME_ISATAP_PRL_MAX * (nla_total_size(0) + 5 * nla_total_size(4) +
					 nla_total_size(1));
}

static int umigame_isatap_fill_info(struct sk_buff *skb, const struct net_device *dev)
{
	struct umigame_isatap *t = netdev_priv(dev);
	struct umigame_isatap_prl *prl = rtnl_dereference(t->prl);
	struct umigame_isatap_rtr r;
	struct nlattr *list, *e;
	unsigned int i;

	list = nla_nest_start(skb, UMIGAME_ISATAP_A_PRL);
	if (!list)
		return -EMSGSIZE;
	for (i = 0; prl && i < prl->n; i++) {
		spin_lock_bh(&t->lock);
		r = prl->r[i];
		spin_unlock_bh(&t->lock);
		e = nla_nest_start(skb, UMIGAME_ISATAP_A_PRL_ENTRY);
		if (!e || nla_put_in_addr(skb, UMIGAME_ISATAP_PRL_A_ADDR, r.addr) ||
		    nla_put_u32(skb, UMIGAME_ISATAP_PRL_A_LIFETIME, umigame_isatap_left(&r)) ||
		    nla_put_u8(skb, UMIGAME_ISATAP_PRL_A_STATE, umigame_isatap_state(&r)) ||
		    nla_put_u32(skb, UMIGAME_ISATAP_PRL_A_RTR_LIFETIME, r.rtr_lifetime) ||
		    nla_put_u32(skb, UMIGAME_ISATAP_PRL_A_RS_SENT, r.rs_sent) ||
		    nla_put_u32(skb, UMIGAME_ISATAP_PRL_A_RA_RCVD, r.ra_rcvd))
			return -EMSGSIZE;
		nla_nest_end(skb, e);
	}
	nla_nest_end(skb, list);
	return 0;
}

static struct rtnl_link_ops umigame_isatap_link_ops __read_mostly = {
	.kind = UMIGAME_ISATAP_KIND,
	.maxtype = UMIGAME_ISATAP_A_MAX,
	.policy = umigame_isatap_policy,
	.priv_size = sizeof(struct umigame_isatap),
	.setup = umigame_isatap_setup,
	.validate = umigame_isatap_validate,
	.newlink = umigame_isatap_newlink,
	.changelink = umigame_isatap_changelink,
	.get_size = umigame_isatap_get_size,
	.fill_info = umigame_isatap_fill_info,
};

/* ---- per namespace, debugfs, init/exit ------------------------------------ */

static int __net_init umigame_isatap_net_init(struct net *net)
{
	INIT_LIST_HEAD(&umigame_isatap_net(net)->links);
	return nf_register_net_hook(net, &umigame_isatap_nf_ops);
}

static void __net_exit umigame_isatap_net_exit(struct net *net)
{
	nf_unregister_net_hook(net, &umigame_isatap_nf_ops);
	/* The links went before (rtnl_link_ops devices leave with the netns). */
	WARN_ON_ONCE(!list_empty(&umigame_isatap_net(net)->links));
}

static struct pernet_operations umigame_isatap_net_ops = {
	.init = umigame_isatap_net_init,
	.exit = umigame_isatap_net_exit,
	.id = &umigame_isatap_net_id,
	.size = sizeof(struct umigame_isatap_net),
};

/*
 * debugfs umigame/isatap: one line per link, every namespace:
 * NAME netns INODE local A.B.C.D prl A,B rx_ok N rx_spoofed N rx_bad N
 * tx_ok N tx_not_isatap N tx_no_route N tx_bad N
 */
static int umigame_isatap_show(struct seq_file *m, void *v)
{
	struct umigame_isatap_rtr r;
	struct umigame_isatap_prl *prl;
	struct umigame_isatap *t;
	struct net *net;
	unsigned int i;

	rcu_read_lock();
	for_each_net_rcu(net) {
		list_for_each_entry_rcu(t, &umigame_isatap_net(net)->links, list) {
			seq_printf(m, "%s netns %u local %pI4 prl ", t->dev->name,
				   net->ns.inum, &t->local);
			prl = rcu_dereference(t->prl);
			for (i = 0; prl && i < prl->n; i++)
				seq_printf(m, "%s%pI4", i ? "," : "", &prl->r[i].addr);
			if (!prl || !prl->n)
				seq_puts(m, "-");
			seq_printf(m, " rx_ok %ld rx_spoofed %ld rx_bad %ld tx_ok %ld tx_not_isatap %ld tx_no_route %ld tx_bad %ld\n",
				   atomic_long_read(&t->rx_ok), atomic_long_read(&t->rx_spoofed),
				   atomic_long_read(&t->rx_bad), atomic_long_read(&t->tx_ok),
				   atomic_long_read(&t->tx_not_isatap),
				   atomic_long_read(&t->tx_no_route), atomic_long_read(&t->tx_bad));
			for (i = 0; prl && i < prl->n; i++) {
				spin_lock_bh(&t->lock);
				r = prl->r[i];
				spin_unlock_bh(&t->lock);
				seq_printf(m, "  router %pI4 state %s lifetime %u rtr_lifetime %u rs %u ra %u\n",
					   &r.addr, umigame_isatap_state_names[umigame_isatap_state(&r)],
					   umigame_isatap_left(&r), r.rtr_lifetime, r.rs_sent,
					   r.ra_rcvd);
			}
		}
	}
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(umigame_isatap);

int umigame_isatap_init(void)
{
	int ret;

	ret = register_pernet_subsys(&umigame_isatap_net_ops);
	if (ret < 0)
		return ret;
	ret = rtnl_link_register(&umigame_isatap_link_ops);
	if (ret < 0)
		goto err_link;
	umigame_isatap_debugfs = debugfs_create_file("isatap", 0400, umigame_debugfs, NULL,
						     &umigame_isatap_fops);
	return 0;

err_link:
	unregister_pernet_subsys(&umigame_isatap_net_ops);
	return ret;
}

void umigame_isatap_exit(void)
{
	/* Undo umigame_isatap_init() in reverse order. */
	debugfs_remove(umigame_isatap_debugfs);
	/* Deletes every link of ours, in every namespace. */
	rtnl_link_unregister(&umigame_isatap_link_ops);
	unregister_pernet_subsys(&umigame_isatap_net_ops);
}

MODULE_ALIAS_RTNL_LINK(UMIGAME_ISATAP_KIND);
