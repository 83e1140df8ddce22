// SPDX-License-Identifier: GPL-2.0
/*
 * PIM-SM Register encapsulation in the kernel (RFC 7761 §4.4.1, §4.9.3).
 *
 * Linux's ip6mr hands each packet a DR must register up to the routing
 * daemon (MRT6MSG_WHOLEPKT), which encapsulates it in user space: a copy
 * and a context switch per packet, just when a new stream starts at full
 * rate. An umigame-pimreg device is instead an ordinary MIF: the daemon
 * (or a static setup) puts it in the (S,G) entry's output list, ip6mr
 * forwards to it as to any interface, and the device sends each packet on
 * to the RP of its group as a Register:
 *
 *   [IPv6 DR -> RP, next header 103][PIM v2 Register: B, N bits][packet]
 *
 * The checksum covers the 8-byte Register header and the IPv6 pseudo-header
 * with an upper-layer length of 8 (§4.9, §4.9.3), as the RP's pim6_rcv()
 * verifies it. Register-Stop stays with the daemon, which takes the device
 * out of the entry's output list as it does today. A header-only packet
 * (payload length 0) goes as a Null-Register (N bit): the daemon writes the
 * (S,G) header to the device through a packet socket when its Register-Stop
 * timer asks for one.
 *
 * Too big for the path to the RP (§4.4.1): an ICMPv6 Packet Too Big to the
 * source with the path MTU less the encapsulation; where that is below the
 * IPv6 minimum, the Register itself is fragmented (a source cannot go below
 * 1280).
 *
 * Configuration over generic netlink (include/umigame/pim.h), per device:
 * the source address, a rate limit, the Border bit, and group ranges with
 * their RP. The settings are one RCU-replaced block, written under RTNL.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/icmpv6.h>
#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/pim.h>
#include <linux/rtnetlink.h>
#include <linux/spinlock.h>
#include <net/addrconf.h>
#include <net/genetlink.h>
#include <net/ip6_checksum.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/rtnetlink.h>

#include "compat.h"
#include "umigame.h"
#include "umigame_trace.h"
#include "umigame/pim.h"

#define PIM_VERSION_REGISTER 0x21 /* version 2, type 1 */
#define PIM_F_BORDER_BIT     0x80000000
#define PIM_F_NULL_BIT       0x40000000

struct umigame_pimreg_rp {
	struct in6_addr group;
	struct in6_addr rp;
	u8 plen;
};

/* A device's settings: replaced whole, read under RCU. */
struct umigame_pimreg_cfg {
	struct rcu_head rcu;
	struct in6_addr source; /* :: = the route's choice */
	u32 rate;               /* Registers/s, 0 = no limit */
	u32 flags;              /* UMIGAME_PIM_F_* */
	unsigned int n;
	struct umigame_pimreg_rp rps[UMIGAME_PIM_MAX_RPS];
};

struct umigame_pimreg {
	struct net_device *dev;
	struct umigame_pimreg_cfg __rcu *cfg;
	/* The rate limit's bucket: tokens in ns-packets, refilled at `rate`
	 * per second, at most one second's worth. */
	spinlock_t bucket_lock;
	u64 tokens, last_ns;
	atomic_long_t registers, null_registers, bytes;
	atomic_long_t drops[UMIGAME_PIM_DROP_COUNT];
};

static struct rtnl_link_ops umigame_pimreg_link_ops;
static struct genl_family umigame_pimreg_genl_family;

/* ---- sending ------------------------------------------------------------- */

/* The longest group range that holds group, or NULL. */
static const struct umigame_pimreg_rp *umigame_pimreg_rp_of(const struct umigame_pimreg_cfg *cfg,
							    const struct in6_addr *group)
{
	const struct umigame_pimreg_rp *best = NULL;
	unsigned int i;

	for (i = 0; i < cfg->n; i++)
		if (ipv6_prefix_equal(group, &cfg->rps[i].group, cfg->rps[i].plen) &&
		    (!best || cfg->rps[i].plen > best->plen))
			best = &cfg->rps[i];
	return best;
}

static bool umigame_pimreg_rate_ok(struct umigame_pimreg *p, u32 rate)
{
	const u64 burst = (u64)rate * NSEC_PER_SEC;
	u64 now, elapsed;
	bool ok;

	if (!rate)
		return true;
	spin_lock(&p->bucket_lock);
	now = ktime_get_mono_fast_ns();
	elapsed = now - p->last_ns;
	p->last_ns = now;
	p->tokens = elapsed >= NSEC_PER_SEC ? burst : min(burst, p->tokens + elapsed * rate);
	ok = p->tokens >= NSEC_PER_SEC;
	if (ok)
		p->tokens -= NSEC_PER_SEC;
	spin_unlock(&p->bucket_lock);
	return ok;
}

static netdev_tx_t umigame_pimreg_drop(struct umigame_pimreg *p, struct sk_buff *skb,
				       const struct in6_addr *group, enum umigame_pim_drop reason)
{
	atomic_long_inc(&p->drops[reason]);
	trace_pim_drop(dev_net(p->dev), p->dev->ifindex, group ?: &in6addr_any, reason);
	DEV_STATS_INC(p->dev, tx_dropped);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

static netdev_tx_t umigame_pimreg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct umigame_pimreg *p = netdev_priv(dev);
	const struct umigame_pimreg_cfg *cfg;
	const struct umigame_pimreg_rp *rp;
	struct in6_addr group, sender, rp_addr, source;
	struct net *net = dev_net(dev);
	const struct ipv6hdr *inner;
	struct pimreghdr *pim;
	struct ipv6hdr *outer;
	struct dst_entry *dst;
	struct flowi6 fl6;
	unsigned int mtu, len;
	bool null_register, fragment = false;
	u32 flags;
	int err;

	skb_reset_network_header(skb);
	if (skb->protocol != htons(ETH_P_IPV6) || !pskb_may_pull(skb, sizeof(*inner)))
		return umigame_pimreg_drop(p, skb, NULL, UMIGAME_PIM_DROP_BAD);
	inner = ipv6_hdr(skb);
	group = inner->daddr;
	len = sizeof(*inner) + ntohs(inner->payload_len);
	if (inner->version != 6 || !ipv6_addr_is_multicast(&group) || len > skb->len)
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_BAD);
	/* What follows the IPv6 packet (a writer's padding) is not its. */
	if (skb->len > len && pskb_trim(skb, len))
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_BAD);
	null_register = len == sizeof(*inner);
	sender = ipv6_hdr(skb)->saddr; /* anew: the trim may have moved it */

	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	rp = cfg ? umigame_pimreg_rp_of(cfg, &group) : NULL;
	if (!rp) {
		rcu_read_unlock();
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_NO_RP);
	}
	rp_addr = rp->rp;
	source = cfg->source;
	flags = (cfg->flags & UMIGAME_PIM_F_BORDER) ? PIM_F_BORDER_BIT : 0;
	/* Null-Registers keep a stopped source stopped: never rate-limited. */
	if (!null_register && !umigame_pimreg_rate_ok(p, cfg->rate)) {
		rcu_read_unlock();
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_RATE);
	}
	rcu_read_unlock();
	if (null_register)
		flags |= PIM_F_NULL_BIT;

	memset(&fl6, 0, sizeof(fl6));
	fl6.daddr = rp_addr;
	fl6.saddr = source;
	fl6.flowi6_proto = IPPROTO_PIM;
	fl6.flowi6_mark = skb->mark;
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_NO_ROUTE);
	}
	if (dst->dev == dev) { /* a route to the RP through ourselves: a loop */
		dst_release(dst);
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_NO_ROUTE);
	}
	if (ipv6_addr_any(&source) &&
	    ipv6_dev_get_saddr(net, ip6_dst_idev(dst)->dev, &rp_addr, 0, &source)) {
		dst_release(dst);
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_NO_ROUTE);
	}

	/* RFC 7761 §4.4.1: Packet Too Big to the source when the Register
	 * would not fit the path to the RP; below 1280 the source cannot
	 * follow, and the Register is fragmented instead. */
	mtu = dst_mtu(dst);
	if (skb->len + UMIGAME_PIM_ENCAP_LEN > mtu) {
		if (mtu >= IPV6_MIN_MTU + UMIGAME_PIM_ENCAP_LEN) {
			icmpv6_ndo_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu - UMIGAME_PIM_ENCAP_LEN);
			dst_release(dst);
			return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_TOO_BIG);
		}
		fragment = true;
	}

	if (skb_cow_head(skb, LL_RESERVED_SPACE(dst->dev) + UMIGAME_PIM_ENCAP_LEN)) {
		dst_release(dst);
		return umigame_pimreg_drop(p, skb, &group, UMIGAME_PIM_DROP_BAD);
	}
	skb_scrub_packet(skb, false); /* clears ignore_df too: set it after */
	nf_reset_ct(skb);
	skb->ignore_df = fragment;

	pim = skb_push(skb, sizeof(*pim));
	pim->type = PIM_VERSION_REGISTER;
	pim->reserved = 0;
	pim->csum = 0;
	pim->flags = htonl(flags);
	outer = skb_push(skb, sizeof(*outer));
	skb_reset_network_header(skb);
	ip6_flow_hdr(outer, 0, 0);
	outer->payload_len = htons(skb->len - sizeof(*outer));
	outer->nexthdr = IPPROTO_PIM;
	outer->hop_limit = ip6_dst_hoplimit(dst);
	outer->saddr = source;
	outer->daddr = rp_addr;
	/* §4.9: the pseudo-header's upper-layer length is the Register
	 * header's 8, the checksum over those 8 bytes only. */
	pim->csum = csum_ipv6_magic(&outer->saddr, &outer->daddr, sizeof(*pim), IPPROTO_PIM,
				     csum_partial(pim, sizeof(*pim), 0));

	skb->protocol = htons(ETH_P_IPV6);
	skb->ip_summed = CHECKSUM_NONE;
	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	skb_dst_set(skb, dst);
	len = skb->len;
	trace_pim_register(net, dev->ifindex, &sender, &group, &rp_addr, len, null_register);
	err = ip6_local_out(net, NULL, skb);
	if (unlikely(net_xmit_eval(err))) {
		DEV_STATS_INC(dev, tx_errors);
		return NETDEV_TX_OK;
	}
	atomic_long_inc(null_register ? &p->null_registers : &p->registers);
	atomic_long_add(len, &p->bytes);
	dev_sw_netstats_tx_add(dev, 1, len);
	return NETDEV_TX_OK;
}

/* ---- the device ---------------------------------------------------------- */

static int umigame_pimreg_dev_init(struct net_device *dev)
{
	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	return dev->tstats ? 0 : -ENOMEM;
}

static void umigame_pimreg_dev_free(struct net_device *dev)
{
	struct umigame_pimreg *p = netdev_priv(dev);

	kfree(rcu_dereference_protected(p->cfg, 1));
	free_percpu(dev->tstats);
}

static const struct net_device_ops umigame_pimreg_netdev_ops = {
	.ndo_init = umigame_pimreg_dev_init,
	.ndo_start_xmit = umigame_pimreg_xmit,
	.ndo_get_stats64 = dev_get_tstats64,
};

/*
 * A point-to-point-like device without a link layer (ARPHRD_NONE, NOARP):
 * IPv6 comes up on it with the ff00::/8 route ip6mr's output lookup needs;
 * no link-local address, nothing is ever received. The MTU leaves room for
 * the Register's headers on a 1500-byte path.
 */
static void umigame_pimreg_setup(struct net_device *dev)
{
	struct umigame_pimreg *p = netdev_priv(dev);

	dev->netdev_ops = &umigame_pimreg_netdev_ops;
	dev->needs_free_netdev = true;
	dev->priv_destructor = umigame_pimreg_dev_free;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_NOARP | IFF_MULTICAST;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = LL_MAX_HEADER + UMIGAME_PIM_ENCAP_LEN;
	dev->mtu = ETH_DATA_LEN - UMIGAME_PIM_ENCAP_LEN;
	dev->min_mtu = IPV6_MIN_MTU;
	dev->max_mtu = IP6_MAX_MTU - UMIGAME_PIM_ENCAP_LEN;
	umigame_netdev_lltx(dev);
	/* Nothing to queue for: a qdisc would only cost every packet. */
	dev->priv_flags |= IFF_NO_QUEUE;
	umigame_netdev_pin_netns(dev);
	netif_keep_dst(dev);
	p->dev = dev;
	spin_lock_init(&p->bucket_lock);
}

static struct rtnl_link_ops umigame_pimreg_link_ops __read_mostly = {
	.kind = UMIGAME_PIM_KIND,
	.priv_size = sizeof(struct umigame_pimreg),
	.setup = umigame_pimreg_setup,
};

/* ---- generic netlink ------------------------------------------------------ */

/* One of our devices in the request's namespace, by IFINDEX (RTNL held). */
static struct umigame_pimreg *umigame_pimreg_get(struct genl_info *info)
{
	struct net_device *dev;

	if (!info->attrs[UMIGAME_PIM_A_IFINDEX]) {
		NL_SET_ERR_MSG(info->extack, "IFINDEX is needed");
		return ERR_PTR(-EINVAL);
	}
	dev = __dev_get_by_index(genl_info_net(info),
				 nla_get_u32(info->attrs[UMIGAME_PIM_A_IFINDEX]));
	if (!dev) {
		NL_SET_ERR_MSG(info->extack, "no such interface");
		return ERR_PTR(-ENODEV);
	}
	if (dev->rtnl_link_ops != &umigame_pimreg_link_ops) {
		NL_SET_ERR_MSG(info->extack, "not an " UMIGAME_PIM_KIND " device");
		return ERR_PTR(-EINVAL);
	}
	return netdev_priv(dev);
}

/* A copy of the device's settings to change, or defaults (RTNL held). */
static struct umigame_pimreg_cfg *umigame_pimreg_cfg_copy(struct umigame_pimreg *p)
{
	const struct umigame_pimreg_cfg *old = rtnl_dereference(p->cfg);
	struct umigame_pimreg_cfg *cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);

	if (cfg && old)
		memcpy(cfg, old, sizeof(*cfg));
	return cfg;
}

static void umigame_pimreg_cfg_commit(struct umigame_pimreg *p, struct umigame_pimreg_cfg *cfg)
{
	struct umigame_pimreg_cfg *old = rtnl_dereference(p->cfg);

	rcu_assign_pointer(p->cfg, cfg);
	if (old)
		kfree_rcu(old, rcu);
}

/*
 * A change of one device's settings: under RTNL, on a copy of them that
 * edit() changes (and may refuse, with a message), made visible whole.
 */
static int umigame_pimreg_edit(struct genl_info *info,
			       int (*edit)(struct umigame_pimreg_cfg *cfg, struct genl_info *info))
{
	struct umigame_pimreg_cfg *cfg;
	struct umigame_pimreg *p;
	int err;

	rtnl_lock();
	p = umigame_pimreg_get(info);
	if (IS_ERR(p)) {
		err = PTR_ERR(p);
		goto out;
	}
	cfg = umigame_pimreg_cfg_copy(p);
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	err = edit(cfg, info);
	if (err) {
		kfree(cfg);
		goto out;
	}
	umigame_pimreg_cfg_commit(p, cfg);
	/* A new rate starts with a full bucket. */
	spin_lock_bh(&p->bucket_lock);
	p->tokens = (u64)cfg->rate * NSEC_PER_SEC;
	p->last_ns = ktime_get_mono_fast_ns();
	spin_unlock_bh(&p->bucket_lock);
out:
	rtnl_unlock();
	return err;
}

static int umigame_pimreg_edit_set(struct umigame_pimreg_cfg *cfg, struct genl_info *info)
{
	struct nlattr *source = info->attrs[UMIGAME_PIM_A_SOURCE];

	if (source) {
		nla_memcpy(&cfg->source, source, sizeof(cfg->source));
		if (!ipv6_addr_any(&cfg->source) &&
		    (ipv6_addr_type(&cfg->source) & (IPV6_ADDR_MULTICAST | IPV6_ADDR_LINKLOCAL |
						     IPV6_ADDR_LOOPBACK))) {
			NL_SET_ERR_MSG_ATTR(info->extack, source,
					    "the source must be a global unicast address of the DR");
			return -EINVAL;
		}
	}
	if (info->attrs[UMIGAME_PIM_A_RATE])
		cfg->rate = nla_get_u32(info->attrs[UMIGAME_PIM_A_RATE]);
	if (info->attrs[UMIGAME_PIM_A_FLAGS])
		cfg->flags = nla_get_u32(info->attrs[UMIGAME_PIM_A_FLAGS]);
	return 0;
}

static int umigame_pimreg_nl_set(struct sk_buff *skb, struct genl_info *info)
{
	return umigame_pimreg_edit(info, umigame_pimreg_edit_set);
}

/* The request's group range, and its slot in cfg (cfg->n when absent). */
static int umigame_pimreg_range(const struct umigame_pimreg_cfg *cfg, struct genl_info *info,
				struct in6_addr *group, u8 *plen, unsigned int *slot)
{
	struct nlattr *g = info->attrs[UMIGAME_PIM_A_GROUP], *l = info->attrs[UMIGAME_PIM_A_PREFIX_LEN];
	struct in6_addr masked;
	unsigned int i;

	if (!g || !l) {
		NL_SET_ERR_MSG(info->extack, "GROUP and PREFIX_LEN are needed");
		return -EINVAL;
	}
	nla_memcpy(group, g, sizeof(*group));
	*plen = nla_get_u8(l);
	ipv6_addr_prefix(&masked, group, *plen);
	if (!ipv6_addr_is_multicast(group) || !ipv6_addr_equal(&masked, group)) {
		NL_SET_ERR_MSG_ATTR(info->extack, g,
				    "a group range lies within ff00::/8, no bits set beyond its length");
		return -EINVAL;
	}
	for (i = 0; i < cfg->n; i++)
		if (cfg->rps[i].plen == *plen && ipv6_addr_equal(&cfg->rps[i].group, group))
			break;
	*slot = i;
	return 0;
}

static int umigame_pimreg_edit_rp_add(struct umigame_pimreg_cfg *cfg, struct genl_info *info)
{
	struct nlattr *rp = info->attrs[UMIGAME_PIM_A_RP];
	struct in6_addr group, addr;
	unsigned int i;
	u8 plen;
	int err;

	err = umigame_pimreg_range(cfg, info, &group, &plen, &i);
	if (err)
		return err;
	if (!rp) {
		NL_SET_ERR_MSG(info->extack, "RP is needed");
		return -EINVAL;
	}
	nla_memcpy(&addr, rp, sizeof(addr));
	if (ipv6_addr_any(&addr) ||
	    (ipv6_addr_type(&addr) & (IPV6_ADDR_MULTICAST | IPV6_ADDR_LINKLOCAL | IPV6_ADDR_LOOPBACK))) {
		NL_SET_ERR_MSG_ATTR(info->extack, rp, "the RP must be a global unicast address");
		return -EINVAL;
	}
	if (i == UMIGAME_PIM_MAX_RPS) {
		NL_SET_ERR_MSG(info->extack, "the device's group range table is full");
		return -ENOSPC;
	}
	cfg->rps[i].group = group;
	cfg->rps[i].plen = plen;
	cfg->rps[i].rp = addr;
	if (i == cfg->n)
		cfg->n++;
	return 0;
}

static int umigame_pimreg_nl_rp_add(struct sk_buff *skb, struct genl_info *info)
{
	return umigame_pimreg_edit(info, umigame_pimreg_edit_rp_add);
}

static int umigame_pimreg_edit_rp_del(struct umigame_pimreg_cfg *cfg, struct genl_info *info)
{
	struct in6_addr group;
	unsigned int i;
	u8 plen;
	int err;

	err = umigame_pimreg_range(cfg, info, &group, &plen, &i);
	if (err)
		return err;
	if (i == cfg->n) {
		NL_SET_ERR_MSG(info->extack, "no such group range");
		return -ENOENT;
	}
	cfg->rps[i] = cfg->rps[--cfg->n];
	return 0;
}

static int umigame_pimreg_nl_rp_del(struct sk_buff *skb, struct genl_info *info)
{
	return umigame_pimreg_edit(info, umigame_pimreg_edit_rp_del);
}

static int umigame_pimreg_fill(struct sk_buff *skb, struct umigame_pimreg *p, u32 portid, u32 seq,
			       int flags)
{
	static const int drop_attr[UMIGAME_PIM_DROP_COUNT] = {
		[UMIGAME_PIM_DROP_NO_RP] = UMIGAME_PIM_A_DROP_NO_RP,
		[UMIGAME_PIM_DROP_RATE] = UMIGAME_PIM_A_DROP_RATE,
		[UMIGAME_PIM_DROP_TOO_BIG] = UMIGAME_PIM_A_DROP_TOO_BIG,
		[UMIGAME_PIM_DROP_NO_ROUTE] = UMIGAME_PIM_A_DROP_NO_ROUTE,
		[UMIGAME_PIM_DROP_BAD] = UMIGAME_PIM_A_DROP_BAD,
	};
	const struct umigame_pimreg_cfg *cfg;
	struct nlattr *list, *e;
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &umigame_pimreg_genl_family, flags, UMIGAME_PIM_CMD_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, UMIGAME_PIM_A_IFINDEX, p->dev->ifindex) ||
	    nla_put_string(skb, UMIGAME_PIM_A_IFNAME, p->dev->name) ||
	    nla_put_u64_64bit(skb, UMIGAME_PIM_A_TX_REGISTERS, atomic_long_read(&p->registers),
			      UMIGAME_PIM_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_PIM_A_TX_NULL_REGISTERS,
			      atomic_long_read(&p->null_registers), UMIGAME_PIM_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_PIM_A_TX_BYTES, atomic_long_read(&p->bytes),
			      UMIGAME_PIM_A_PAD))
		goto err;
	for (i = 0; i < UMIGAME_PIM_DROP_COUNT; i++)
		if (nla_put_u64_64bit(skb, drop_attr[i], atomic_long_read(&p->drops[i]),
				      UMIGAME_PIM_A_PAD))
			goto err;
	rcu_read_lock();
	cfg = rcu_dereference(p->cfg);
	if (cfg && (nla_put_in6_addr(skb, UMIGAME_PIM_A_SOURCE, &cfg->source) ||
		    nla_put_u32(skb, UMIGAME_PIM_A_RATE, cfg->rate) ||
		    nla_put_u32(skb, UMIGAME_PIM_A_FLAGS, cfg->flags)))
		goto err_rcu;
	list = nla_nest_start(skb, UMIGAME_PIM_A_RP_LIST);
	if (!list)
		goto err_rcu;
	for (i = 0; cfg && i < cfg->n; i++) {
		e = nla_nest_start(skb, UMIGAME_PIM_A_RP_ENTRY);
		if (!e || nla_put_in6_addr(skb, UMIGAME_PIM_A_GROUP, &cfg->rps[i].group) ||
		    nla_put_u8(skb, UMIGAME_PIM_A_PREFIX_LEN, cfg->rps[i].plen) ||
		    nla_put_in6_addr(skb, UMIGAME_PIM_A_RP, &cfg->rps[i].rp))
			goto err_rcu;
		nla_nest_end(skb, e);
	}
	nla_nest_end(skb, list);
	rcu_read_unlock();
	genlmsg_end(skb, hdr);
	return 0;

err_rcu:
	rcu_read_unlock();
err:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int umigame_pimreg_nl_get(struct sk_buff *skb, struct genl_info *info)
{
	struct umigame_pimreg *p;
	struct sk_buff *reply;
	int err;

	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	rtnl_lock();
	p = umigame_pimreg_get(info);
	err = IS_ERR(p) ? PTR_ERR(p) : umigame_pimreg_fill(reply, p, info->snd_portid, info->snd_seq, 0);
	rtnl_unlock();
	if (err) {
		nlmsg_free(reply);
		return err;
	}
	return genlmsg_reply(reply, info);
}

/* Every device of ours in the namespace; cb->args[0]: how many are done. */
static int umigame_pimreg_nl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct net_device *dev;
	long i = 0;

	rcu_read_lock();
	for_each_netdev_rcu(net, dev) {
		if (dev->rtnl_link_ops != &umigame_pimreg_link_ops)
			continue;
		if (i++ < cb->args[0])
			continue;
		if (umigame_pimreg_fill(skb, netdev_priv(dev), NETLINK_CB(cb->skb).portid,
					cb->nlh->nlmsg_seq, NLM_F_MULTI)) {
			i--;
			break;
		}
	}
	rcu_read_unlock();
	cb->args[0] = i;
	return skb->len;
}

static const struct nla_policy umigame_pimreg_policy[UMIGAME_PIM_A_MAX + 1] = {
	[UMIGAME_PIM_A_IFINDEX]		= NLA_POLICY_MIN(NLA_U32, 1),
	[UMIGAME_PIM_A_SOURCE]		= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[UMIGAME_PIM_A_RATE]		= { .type = NLA_U32 },
	[UMIGAME_PIM_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, UMIGAME_PIM_F_ALL),
	[UMIGAME_PIM_A_GROUP]		= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[UMIGAME_PIM_A_PREFIX_LEN]	= NLA_POLICY_RANGE(NLA_U8, 8, 128),
	[UMIGAME_PIM_A_RP]		= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
};

/* Who registers to which RP decides where multicast goes: CAP_NET_ADMIN. */
static const struct genl_small_ops umigame_pimreg_genl_ops[] = {
	{
		.cmd = UMIGAME_PIM_CMD_SET,
		.doit = umigame_pimreg_nl_set,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_PIM_CMD_RP_ADD,
		.doit = umigame_pimreg_nl_rp_add,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_PIM_CMD_RP_DEL,
		.doit = umigame_pimreg_nl_rp_del,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_PIM_CMD_GET,
		.doit = umigame_pimreg_nl_get,
		.dumpit = umigame_pimreg_nl_dump,
		.flags = GENL_ADMIN_PERM,
	},
};

/* netnsok: a command acts on the devices of its socket's namespace. */
static struct genl_family umigame_pimreg_genl_family __ro_after_init = {
	.name = UMIGAME_PIM_GENL_NAME,
	.version = UMIGAME_PIM_GENL_VERSION,
	.maxattr = UMIGAME_PIM_A_MAX,
	.policy = umigame_pimreg_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = umigame_pimreg_genl_ops,
	.n_small_ops = ARRAY_SIZE(umigame_pimreg_genl_ops),
};

/* ---- init/exit ------------------------------------------------------------ */

int umigame_pimreg_init(void)
{
	int ret;

	ret = rtnl_link_register(&umigame_pimreg_link_ops);
	if (ret < 0)
		return ret;
	ret = genl_register_family(&umigame_pimreg_genl_family);
	if (ret < 0)
		goto err_genl;
	return 0;

err_genl:
	rtnl_link_unregister(&umigame_pimreg_link_ops);
	return ret;
}

void umigame_pimreg_exit(void)
{
	/* Undo umigame_pimreg_init() in reverse order. */
	genl_unregister_family(&umigame_pimreg_genl_family);
	/* Deletes every device of ours, in every namespace; ip6mr lets go of
	 * the MIFs on NETDEV_UNREGISTER. */
	rtnl_link_unregister(&umigame_pimreg_link_ops);
}

MODULE_ALIAS_RTNL_LINK(UMIGAME_PIM_KIND);
MODULE_ALIAS_GENL_FAMILY(UMIGAME_PIM_GENL_NAME);
