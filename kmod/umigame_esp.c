// SPDX-License-Identifier: GPL-2.0
/*
 * ESP SAs for the XDP fast path (include/umigame/esp.h has the interface).
 *
 * Userspace adds SAs over the generic-netlink family "umigame_esp"; the
 * module keeps them in a table indexed by an id it picks, together with a
 * synchronous AEAD transform keyed at SA_ADD. An XDP program that found the
 * id for a packet's SPI calls umigame_esp_decrypt(), which verifies and
 * decrypts the packet in place, in softirq, without allocating.
 *
 * Network namespaces: each has its own table (struct umigame_esp_net, a
 * pernet_operations area found with net_generic()), as xfrm keeps its states
 * per namespace. Commands act on the table of the namespace the netlink
 * socket lives in; the kfuncs on the table of the namespace of the device
 * the packet came in on (dev_net(rxq->dev)); so the same SPI, and the same
 * SA id, can exist in two namespaces with different keys. A namespace's SAs
 * go with it (umigame_esp_net_exit()).
 *
 * Lifetimes: a table is an xarray (RCU readers: the kfuncs, SA_GET and the
 * dump) changed under its namespace's lock. A removed SA is freed from a
 * workqueue after an RCU grace period, since a kfunc may still be using it
 * and freeing a transform is not for softirq context.
 *
 * Keys: the module keeps no copy. They go into the transform at SA_ADD (and
 * the crypto API zeroes its key schedule when the transform is freed), the
 * authenc key blob is zeroed right after use, and the per-CPU request areas
 * (which hold key-derived hash state while they work) are zeroed on free.
 * Nothing that answers SA_GET can reach a key.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/simd.h>
#include <crypto/aead.h>
#include <crypto/aes.h>
#include <crypto/authenc.h>
#include <crypto/internal/simd.h>
#include <linux/atomic.h>
#include <linux/bottom_half.h>
#include <linux/bpf.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/rtnetlink.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/netns/generic.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "umigame/esp.h"

#include "compat.h"
#include "umigame.h"

#define CREATE_TRACE_POINTS
#include "umigame_trace.h"

#define UMIGAME_ESP_HDR_LEN	8	/* SPI + low 32 bits of the sequence number */
#define UMIGAME_ESP_GCM_SALT	4	/* RFC 4106 §8.1: key material = key || salt */
#define UMIGAME_ESP_SHA256_KEY	32	/* RFC 4868 §2.1.1: key length = output length */
#define UMIGAME_ESP_SHA256_ICV	16	/* HMAC-SHA-256-128 */
/* Longest key attribute the policy lets through; the suites check exactly. */
#define UMIGAME_ESP_MAX_KEY	64

/*
 * What one decrypt needs besides the packet, one per SA and CPU. kmalloc'd,
 * not per-CPU memory: the crypto templates point scatterlists into the
 * request context, and scatterlists need the linear map.
 */
struct umigame_esp_work {
	u8 iv[UMIGAME_ESP_MAX_IV] __aligned(16);
	__be32 aad[3];			/* with ESN: SPI, seq_hi, seq_lo */
	struct scatterlist sg[2];
	struct aead_request req;	/* last: the transform's context follows */
};

struct umigame_esp_pcpu_stats {
	u64 auth_failures;
	u64 replay_drops;
};

struct umigame_esp_sa {
	/* per packet */
	struct crypto_aead *tfm;
	/*
	 * The suite's SIMD implementation (AES-NI + PCLMULQDQ GCM on x86),
	 * when the kernel has one. Such implementations are registered as
	 * internal: callable only where the FPU is usable, which the public
	 * name's wrapper ensures by deferring to cryptd, an asynchronous path
	 * a kfunc cannot wait for. So the kfunc calls it directly when
	 * crypto_simd_usable() and falls back to tfm (synchronous, generic
	 * GHASH: several times slower) when not. NULL: tfm only.
	 */
	struct crypto_aead *simd_tfm;
	struct umigame_esp_work * __percpu *work;
	struct umigame_esp_pcpu_stats __percpu *stats;
	/*
	 * Atomics rather than per-CPU counters: the hard lifetimes are
	 * checked against the totals on every packet.
	 */
	atomic64_t bytes;
	atomic64_t packets;
	u64 life_bytes;
	u64 life_packets;
	u32 id;
	u32 spi;
	u32 flags;
	u8 suite;
	u8 icv_len;
	u8 iv_len;
	bool expired;

	/* reported by SA_GET, and compared on SA_ADD */
	u16 family;
	u16 encap_port;
	u16 key_bits;
	u8 mode;
	u32 replay_window;
	u64 replay_start;
	u8 src[16];
	u8 dst[16];

	struct rcu_work free_work;
};

/* One per network namespace: its SA table. */
struct umigame_esp_net {
	struct xarray sas;	/* id -> SA; ids from 1 */
	struct mutex lock;	/* serialises changes to sas */
	u32 next_id;		/* cursor of xa_alloc_cyclic() */
	unsigned int count;	/* SAs in sas (debugfs) */
};

static unsigned int umigame_esp_net_id __read_mostly;
/* SAs allocated and not yet freed, in every namespace (debugfs). */
static atomic_t umigame_esp_sa_objects = ATOMIC_INIT(0);
static struct workqueue_struct *umigame_esp_wq;
static struct genl_family umigame_esp_genl_family;
static struct dentry *umigame_esp_debugfs;

static struct umigame_esp_net *umigame_esp_net(const struct net *net)
{
	return net_generic(net, umigame_esp_net_id);
}

/* ---- SA lifetime ------------------------------------------------------ */

static void umigame_esp_sa_free(struct umigame_esp_sa *sa)
{
	int cpu;

	if (sa->work) {
		for_each_possible_cpu(cpu)
			kfree_sensitive(*per_cpu_ptr(sa->work, cpu));
		free_percpu(sa->work);
	}
	free_percpu(sa->stats);
	if (!IS_ERR_OR_NULL(sa->tfm))
		crypto_free_aead(sa->tfm);
	if (!IS_ERR_OR_NULL(sa->simd_tfm))
		crypto_free_aead(sa->simd_tfm);
	kfree(sa);
	atomic_dec(&umigame_esp_sa_objects);
}

static void umigame_esp_sa_free_work(struct work_struct *work)
{
	umigame_esp_sa_free(container_of(to_rcu_work(work), struct umigame_esp_sa,
					 free_work));
}

/* The SA has left the table; kfuncs that found it before may still run. */
static void umigame_esp_sa_release(struct umigame_esp_sa *sa)
{
	queue_rcu_work(umigame_esp_wq, &sa->free_work);
}

/* Takes SA id out of en's table; the caller holds en->lock. */
static struct umigame_esp_sa *umigame_esp_remove(struct umigame_esp_net *en, u32 id)
{
	struct umigame_esp_sa *sa = xa_erase(&en->sas, id);

	if (sa)
		WRITE_ONCE(en->count, en->count - 1);
	return sa;
}

static unsigned int umigame_esp_flush(struct umigame_esp_net *en)
{
	struct umigame_esp_sa *sa;
	unsigned long id;
	unsigned int n = 0;

	mutex_lock(&en->lock);
	xa_for_each(&en->sas, id, sa) {
		umigame_esp_remove(en, id);
		umigame_esp_sa_release(sa);
		n++;
	}
	mutex_unlock(&en->lock);
	return n;
}

/* ---- the kfuncs (softirq, or a BPF test run with migration disabled) --- */

/*
 * The namespace a packet is judged in: the one of the device it came in on.
 * Every XDP entry point (driver, generic, devmap, cpumap, a test run on the
 * caller's loopback or its ingress_ifindex) sets rxq->dev, which the kernel's
 * own XDP helpers (bpf_xdp_fib_lookup) rely on as well. Under rcu_read_lock().
 */
static struct net *umigame_esp_xdp_net(const struct xdp_buff *xdp)
{
	return dev_net(xdp->rxq->dev);
}

static bool umigame_esp_expired(struct umigame_esp_sa *sa)
{
	if (READ_ONCE(sa->expired))
		return true;
	/*
	 * As xfrm does: a packet is refused once a hard limit has been
	 * reached, so the last one accepted may cross it. CPUs race between
	 * this check and the update: at most one packet each goes over.
	 */
	if ((sa->life_packets && atomic64_read(&sa->packets) >= sa->life_packets) ||
	    (sa->life_bytes && atomic64_read(&sa->bytes) >= sa->life_bytes)) {
		WRITE_ONCE(sa->expired, true);
		return true;
	}
	return false;
}

__bpf_kfunc int umigame_esp_decrypt(struct xdp_md *ctx, u32 sa_id, u32 esp_off, u32 seq_hi)
{
	struct xdp_buff *xdp = (struct xdp_buff *)ctx;
	u32 len = xdp->data_end - xdp->data;
	struct umigame_esp_work *w;
	struct umigame_esp_sa *sa;
	u32 esp_len, ct_len, min_ct, assoclen, seq_lo;
	struct net *net;
	u64 seq;
	u8 *esp;
	int ret;

	rcu_read_lock();
	net = umigame_esp_xdp_net(xdp);
	sa = xa_load(&umigame_esp_net(net)->sas, sa_id);
	if (unlikely(!sa)) {
		u32 spi = 0;

		seq = 0;
		if (esp_off <= len && len - esp_off >= UMIGAME_ESP_HDR_LEN) {
			esp = (u8 *)xdp->data + esp_off;
			spi = get_unaligned_be32(esp);
			seq = get_unaligned_be32(esp + 4);
		}
		trace_esp_unknown_sa(net, sa_id, spi, seq, esp_off <= len ? len - esp_off : 0);
		ret = -ENOENT;
		goto out;
	}
	if (unlikely(umigame_esp_expired(sa))) {
		ret = -EKEYEXPIRED;
		goto out;
	}

	/*
	 * Everything is checked against the linear area before the first
	 * read: the ESP header, the IV, at least a minimal payload, the ICV.
	 */
	min_ct = sa->suite == UMIGAME_ESP_SUITE_AES_CBC_SHA256 ? AES_BLOCK_SIZE : 2;
	if (unlikely(xdp_buff_has_frags(xdp) || esp_off > len)) {
		ret = -EINVAL;
		goto out;
	}
	esp_len = len - esp_off;
	if (unlikely(esp_len < UMIGAME_ESP_HDR_LEN + sa->iv_len + min_ct + sa->icv_len)) {
		ret = -EINVAL;
		goto out;
	}
	ct_len = esp_len - UMIGAME_ESP_HDR_LEN - sa->iv_len - sa->icv_len;
	if (sa->suite == UMIGAME_ESP_SUITE_AES_CBC_SHA256 && !IS_ALIGNED(ct_len, AES_BLOCK_SIZE)) {
		ret = -EINVAL;
		goto out;
	}
	esp = (u8 *)xdp->data + esp_off;
	seq_lo = get_unaligned_be32(esp + 4);
	seq = sa->flags & UMIGAME_ESP_F_ESN ? (u64)seq_hi << 32 | seq_lo : seq_lo;

	/*
	 * The work area is this CPU's. A BPF test run only disables
	 * migration, so a softirq could take the same area from under it:
	 * keep softirqs off while it is in use.
	 */
	local_bh_disable();
	w = *this_cpu_ptr(sa->work);
	/* A copy: CBC hands back its chaining value through the IV buffer. */
	memcpy(w->iv, esp + UMIGAME_ESP_HDR_LEN, sa->iv_len);
	if (sa->flags & UMIGAME_ESP_F_ESN) {
		/*
		 * The packet only carries the low half. Both rfc4106 (RFC 4106
		 * §5: AAD = SPI, seq_hi, seq_lo) and authencesn (which moves
		 * seq_hi behind the payload itself, RFC 4303 §2.2.1) take the
		 * associated data in this order, as esp4/esp6 hand it to them.
		 */
		memcpy(&w->aad[0], esp, 4);
		w->aad[1] = cpu_to_be32(seq_hi);
		memcpy(&w->aad[2], esp + 4, 4);
		sg_init_table(w->sg, 2);
		sg_set_buf(&w->sg[0], w->aad, sizeof(w->aad));
		sg_set_buf(&w->sg[1], esp + UMIGAME_ESP_HDR_LEN, esp_len - UMIGAME_ESP_HDR_LEN);
		assoclen = sizeof(w->aad) + sa->iv_len;
	} else {
		sg_init_one(w->sg, esp, esp_len);
		assoclen = UMIGAME_ESP_HDR_LEN + sa->iv_len;
	}
	/* Without a geniv wrapper the IV is part of the associated data. */
	aead_request_set_tfm(&w->req, sa->simd_tfm && crypto_simd_usable() ? sa->simd_tfm : sa->tfm);
	aead_request_set_callback(&w->req, 0, NULL, NULL);
	aead_request_set_crypt(&w->req, w->sg, w->sg, ct_len + sa->icv_len, w->iv);
	aead_request_set_ad(&w->req, assoclen);
	ret = crypto_aead_decrypt(&w->req);
	local_bh_enable();

	if (likely(!ret)) {
		u64 packets = atomic64_inc_return(&sa->packets);
		u64 bytes = atomic64_add_return(ct_len, &sa->bytes);

		if ((sa->life_packets && packets >= sa->life_packets) ||
		    (sa->life_bytes && bytes >= sa->life_bytes))
			WRITE_ONCE(sa->expired, true);
		trace_esp_decrypt_ok(net, sa_id, sa->spi, seq, ct_len);
		ret = ct_len;
	} else if (ret == -EBADMSG) {
		this_cpu_inc(sa->stats->auth_failures);
		trace_esp_auth_fail(net, sa_id, sa->spi, seq, esp_len);
	} else if (WARN_ON_ONCE(ret == -EINPROGRESS || ret == -EBUSY)) {
		/* Cannot happen with a synchronous transform. */
		ret = -EBUSY;
	}
out:
	rcu_read_unlock();
	return ret;
}

__bpf_kfunc void umigame_esp_note_replay(struct xdp_md *ctx, u32 sa_id, u64 seq)
{
	struct umigame_esp_sa *sa;
	struct net *net;

	rcu_read_lock();
	net = umigame_esp_xdp_net((struct xdp_buff *)ctx);
	sa = xa_load(&umigame_esp_net(net)->sas, sa_id);
	if (sa) {
		this_cpu_inc(sa->stats->replay_drops);
		trace_esp_replay(net, sa_id, sa->spi, seq, 0);
	}
	rcu_read_unlock();
}

/* ---- SA_ADD ----------------------------------------------------------- */

/* A required attribute: say which, in words and as NLMSGERR_ATTR_MISS_TYPE. */
#define UMIGAME_ESP_NEED(info, attr, what) ({				\
	bool __missing = GENL_REQ_ATTR_CHECK(info, attr);		\
									\
	if (__missing)							\
		NL_SET_ERR_MSG((info)->extack, "missing " what);	\
	__missing;							\
})

static int umigame_esp_parse_addr(u8 *to, const struct nlattr *attr, unsigned int alen,
				  struct netlink_ext_ack *extack)
{
	if (nla_len(attr) != alen) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "address length does not match the family (4 bytes for AF_INET, 16 for AF_INET6)");
		return -EINVAL;
	}
	nla_memcpy(to, attr, alen);
	return 0;
}

/* Everything but the crypto: checked before anything is allocated. */
static int umigame_esp_parse(struct umigame_esp_sa *sa, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	const struct nlattr *ek, *ak;
	unsigned int alen;
	int err;

	if (UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_SPI, "SPI") ||
	    UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_FAMILY, "address family") ||
	    UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_SRC, "source address") ||
	    UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_DST, "destination address") ||
	    UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_SUITE, "suite") ||
	    UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_ENC_KEY, "encryption key"))
		return -EINVAL;

	sa->spi = nla_get_u32(tb[UMIGAME_ESP_A_SPI]);
	sa->family = nla_get_u16(tb[UMIGAME_ESP_A_FAMILY]);
	switch (sa->family) {
	case AF_INET:
		alen = 4;
		break;
	case AF_INET6:
		alen = 16;
		break;
	default:
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_FAMILY],
				    "address family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	err = umigame_esp_parse_addr(sa->src, tb[UMIGAME_ESP_A_SRC], alen, extack) ?:
	      umigame_esp_parse_addr(sa->dst, tb[UMIGAME_ESP_A_DST], alen, extack);
	if (err)
		return err;

	/*
	 * Absent optional attributes leave the kzalloc'ed 0: transport mode,
	 * no encapsulation, no lifetime, no replay window, no flags.
	 */
	if (tb[UMIGAME_ESP_A_MODE])
		sa->mode = nla_get_u8(tb[UMIGAME_ESP_A_MODE]);
	if (tb[UMIGAME_ESP_A_ENCAP_PORT])
		sa->encap_port = nla_get_u16(tb[UMIGAME_ESP_A_ENCAP_PORT]);
	if (tb[UMIGAME_ESP_A_LIFE_BYTES])
		sa->life_bytes = nla_get_u64(tb[UMIGAME_ESP_A_LIFE_BYTES]);
	if (tb[UMIGAME_ESP_A_LIFE_PACKETS])
		sa->life_packets = nla_get_u64(tb[UMIGAME_ESP_A_LIFE_PACKETS]);
	if (tb[UMIGAME_ESP_A_REPLAY_WINDOW])
		sa->replay_window = nla_get_u32(tb[UMIGAME_ESP_A_REPLAY_WINDOW]);
	if (tb[UMIGAME_ESP_A_FLAGS])
		sa->flags = nla_get_u32(tb[UMIGAME_ESP_A_FLAGS]);
	if (tb[UMIGAME_ESP_A_REPLAY_START])
		sa->replay_start = nla_get_u64(tb[UMIGAME_ESP_A_REPLAY_START]);

	/* The XDP program's window (include/umigame/replay.h) decides what fits. */
	if (sa->replay_window && umigame_replay_valid_size(sa->replay_window)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_REPLAY_WINDOW],
				    "replay window must be 0 (off) or a power of two from 64 to 65536");
		return -EINVAL;
	}
	if (sa->flags & ~UMIGAME_ESP_F_ALL) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_FLAGS], "unknown flags");
		return -EOPNOTSUPP;
	}
	if ((sa->flags & UMIGAME_ESP_F_ESN) && !sa->replay_window) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_FLAGS],
				    "ESN needs a replay window: the receiver infers the high sequence bits from it (RFC 4303 Appendix A)");
		return -EINVAL;
	}
	if (!(sa->flags & UMIGAME_ESP_F_ESN) && sa->replay_start > U32_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_REPLAY_START],
				    "replay start above 2^32 - 1 needs ESN");
		return -EINVAL;
	}

	ek = tb[UMIGAME_ESP_A_ENC_KEY];
	ak = tb[UMIGAME_ESP_A_AUTH_KEY];
	sa->suite = nla_get_u8(tb[UMIGAME_ESP_A_SUITE]);
	/* Both suites' full-length ICV unless told otherwise. */
	sa->icv_len = tb[UMIGAME_ESP_A_ICV_LEN] ? nla_get_u8(tb[UMIGAME_ESP_A_ICV_LEN]) : 16;
	switch (sa->suite) {
	case UMIGAME_ESP_SUITE_AES_GCM:
		switch (nla_len(ek)) {
		case 16 + UMIGAME_ESP_GCM_SALT:
		case 24 + UMIGAME_ESP_GCM_SALT:
		case 32 + UMIGAME_ESP_GCM_SALT:
			break;
		default:
			NL_SET_ERR_MSG_ATTR(extack, ek,
					    "AES-GCM key must be 20, 28 or 36 bytes: a 128, 192 or 256-bit AES key and the 4-byte salt");
			return -EINVAL;
		}
		sa->key_bits = (nla_len(ek) - UMIGAME_ESP_GCM_SALT) * 8;
		if (ak) {
			NL_SET_ERR_MSG_ATTR(extack, ak, "AES-GCM takes no authentication key");
			return -EINVAL;
		}
		if (sa->icv_len != 8 && sa->icv_len != 12 && sa->icv_len != 16) {
			NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_ICV_LEN],
					    "AES-GCM ICV must be 8, 12 or 16 bytes (RFC 4106)");
			return -EINVAL;
		}
		break;
	case UMIGAME_ESP_SUITE_AES_CBC_SHA256:
		switch (nla_len(ek)) {
		case AES_KEYSIZE_128:
		case AES_KEYSIZE_192:
		case AES_KEYSIZE_256:
			break;
		default:
			NL_SET_ERR_MSG_ATTR(extack, ek, "AES-CBC key must be 16, 24 or 32 bytes");
			return -EINVAL;
		}
		sa->key_bits = nla_len(ek) * 8;
		if (UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_AUTH_KEY, "authentication key"))
			return -EINVAL;
		if (nla_len(ak) != UMIGAME_ESP_SHA256_KEY) {
			NL_SET_ERR_MSG_ATTR(extack, ak,
					    "HMAC-SHA-256 key must be 32 bytes (RFC 4868)");
			return -EINVAL;
		}
		if (sa->icv_len != UMIGAME_ESP_SHA256_ICV) {
			NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_ICV_LEN],
					    "HMAC-SHA-256 ICV must be 16 bytes (HMAC-SHA-256-128, RFC 4868)");
			return -EINVAL;
		}
		break;
	default:
		NL_SET_ERR_MSG_ATTR(extack, tb[UMIGAME_ESP_A_SUITE],
				    "unknown suite (1 = AES-GCM, 2 = AES-CBC with HMAC-SHA-256)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * authenc takes both keys as one blob: an rtattr with the cipher key's
 * length, then the HMAC key, then the cipher key (crypto/authenc.h).
 */
static int umigame_esp_setkey_authenc(struct crypto_aead *tfm, const struct nlattr *ek,
				      const struct nlattr *ak)
{
	unsigned int elen = nla_len(ek), alen = nla_len(ak);
	unsigned int len = RTA_SPACE(sizeof(struct crypto_authenc_key_param)) + alen + elen;
	struct crypto_authenc_key_param *param;
	struct rtattr *rta;
	u8 *blob, *p;
	int err;

	blob = kmalloc(len, GFP_KERNEL);
	if (!blob)
		return -ENOMEM;
	rta = (struct rtattr *)blob;
	rta->rta_type = CRYPTO_AUTHENC_KEYA_PARAM;
	rta->rta_len = RTA_LENGTH(sizeof(*param));
	param = RTA_DATA(rta);
	param->enckeylen = cpu_to_be32(elen);
	p = blob + RTA_SPACE(sizeof(*param));
	memcpy(p, nla_data(ak), alen);
	memcpy(p + alen, nla_data(ek), elen);
	err = crypto_aead_setkey(tfm, blob, len);
	kfree_sensitive(blob);
	return err;
}

static int umigame_esp_alloc_work(struct umigame_esp_sa *sa)
{
	size_t size = sizeof(struct umigame_esp_work) +
		      max(crypto_aead_reqsize(sa->tfm), sa->simd_tfm ? crypto_aead_reqsize(sa->simd_tfm) : 0);
	struct umigame_esp_work *w;
	int cpu;

	sa->work = alloc_percpu(struct umigame_esp_work *);
	if (!sa->work)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		/* kmalloc aligns a power-of-two size to itself: iv[] gets its 16. */
		w = kzalloc_node(roundup_pow_of_two(size), GFP_KERNEL, cpu_to_node(cpu));
		if (!w)
			return -ENOMEM;
		*per_cpu_ptr(sa->work, cpu) = w;
	}
	return 0;
}

static int umigame_esp_setkey(struct umigame_esp_sa *sa, struct crypto_aead *tfm,
			      const struct nlattr *ek, const struct nlattr *ak)
{
	int err;

	if (sa->suite == UMIGAME_ESP_SUITE_AES_GCM)
		err = crypto_aead_setkey(tfm, nla_data(ek), nla_len(ek));
	else
		err = umigame_esp_setkey_authenc(tfm, ek, ak);
	return err ?: crypto_aead_setauthsize(tfm, sa->icv_len);
}

/*
 * The internal SIMD implementation of `alg` ("__" before the name, by the
 * crypto API's convention), keyed like the fallback; NULL when there is
 * none or it refuses what the fallback took.
 */
static struct crypto_aead *umigame_esp_simd_tfm(struct umigame_esp_sa *sa, const char *alg,
						const struct nlattr *ek, const struct nlattr *ak)
{
	char name[CRYPTO_MAX_ALG_NAME];
	struct crypto_aead *tfm;

	if (snprintf(name, sizeof(name), "__%s", alg) >= sizeof(name))
		return NULL;
	tfm = crypto_alloc_aead(name, CRYPTO_ALG_INTERNAL, CRYPTO_ALG_INTERNAL | CRYPTO_ALG_ASYNC);
	if (IS_ERR(tfm))
		return NULL;
	if (crypto_aead_ivsize(tfm) != sa->iv_len || umigame_esp_setkey(sa, tfm, ek, ak)) {
		crypto_free_aead(tfm);
		return NULL;
	}
	return tfm;
}

static int umigame_esp_crypto_init(struct umigame_esp_sa *sa, struct genl_info *info)
{
	const struct nlattr *ek = info->attrs[UMIGAME_ESP_A_ENC_KEY];
	const struct nlattr *ak = info->attrs[UMIGAME_ESP_A_AUTH_KEY];
	struct netlink_ext_ack *extack = info->extack;
	const char *alg;
	int err;

	if (sa->suite == UMIGAME_ESP_SUITE_AES_GCM)
		alg = "rfc4106(gcm(aes))";
	else if (sa->flags & UMIGAME_ESP_F_ESN)
		alg = "authencesn(hmac(sha256),cbc(aes))";
	else
		alg = "authenc(hmac(sha256),cbc(aes))";

	/*
	 * ASYNC in the mask: a synchronous implementation, which the kfunc
	 * can run to completion in softirq with a preallocated request.
	 */
	sa->tfm = crypto_alloc_aead(alg, 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(sa->tfm)) {
		err = PTR_ERR(sa->tfm);
		sa->tfm = NULL;
		NL_SET_ERR_MSG(extack, "no synchronous implementation of the suite here");
		return err;
	}
	sa->iv_len = crypto_aead_ivsize(sa->tfm);
	if (WARN_ON_ONCE(sa->iv_len > UMIGAME_ESP_MAX_IV))
		return -EINVAL;

	err = umigame_esp_setkey(sa, sa->tfm, ek, ak);
	if (err) {
		NL_SET_ERR_MSG_ATTR(extack, ek, "the cipher refused the key or the ICV length");
		return err;
	}
	sa->simd_tfm = umigame_esp_simd_tfm(sa, alg, ek, ak);
	return umigame_esp_alloc_work(sa);
}

/* The lookup key of esp_sas: two SAs with the same one cannot coexist. */
static bool umigame_esp_same_key(const struct umigame_esp_sa *a, const struct umigame_esp_sa *b)
{
	return a->spi == b->spi && a->family == b->family && a->encap_port == b->encap_port &&
	       !memcmp(a->dst, b->dst, sizeof(a->dst));
}

static int umigame_esp_nl_add(struct sk_buff *skb, struct genl_info *info)
{
	struct umigame_esp_net *en = umigame_esp_net(genl_info_net(info));
	struct umigame_esp_sa *sa, *other;
	struct sk_buff *reply;
	unsigned long index;
	void *hdr;
	u32 id;
	int err;

	sa = kzalloc(sizeof(*sa), GFP_KERNEL);
	if (!sa)
		return -ENOMEM;
	atomic_inc(&umigame_esp_sa_objects);
	INIT_RCU_WORK(&sa->free_work, umigame_esp_sa_free_work);
	err = umigame_esp_parse(sa, info) ?: umigame_esp_crypto_init(sa, info);
	if (err)
		goto err_free;
	sa->stats = alloc_percpu(struct umigame_esp_pcpu_stats);
	/* The reply is ready before the SA is visible: nothing to undo after. */
	reply = genlmsg_new(nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!sa->stats || !reply) {
		err = -ENOMEM;
		goto err_reply;
	}
	hdr = genlmsg_put_reply(reply, info, &umigame_esp_genl_family, 0,
				UMIGAME_ESP_CMD_SA_ADD);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_reply;
	}

	mutex_lock(&en->lock);
	xa_for_each(&en->sas, index, other) {
		if (umigame_esp_same_key(sa, other)) {
			mutex_unlock(&en->lock);
			NL_SET_ERR_MSG(info->extack,
				       "an SA with this SPI, destination and encap port exists");
			err = -EEXIST;
			goto err_reply;
		}
	}
	/*
	 * Cyclic ids: a stale esp_sas entry must not find a new SA under an
	 * old id soon after a delete. Reserve the id first, so that no reader
	 * sees the SA before its id is set.
	 */
	err = xa_alloc_cyclic(&en->sas, &id, NULL,
			      XA_LIMIT(1, UMIGAME_ESP_MAX_SAS - 1), &en->next_id,
			      GFP_KERNEL);
	if (err < 0) {
		mutex_unlock(&en->lock);
		if (err == -EBUSY)
			NL_SET_ERR_MSG(info->extack, "SA table full");
		goto err_reply;
	}
	sa->id = id;
	/* Storing into the reserved slot allocates nothing, and cannot fail. */
	err = nla_put_u32(reply, UMIGAME_ESP_A_SA_ID, id) ?:
	      xa_err(xa_store(&en->sas, id, sa, GFP_KERNEL));
	if (err) {
		xa_erase(&en->sas, id);
		mutex_unlock(&en->lock);
		goto err_reply;
	}
	WRITE_ONCE(en->count, en->count + 1);
	mutex_unlock(&en->lock);

	genlmsg_end(reply, hdr);
	err = genlmsg_reply(reply, info);
	if (err) {
		/* The caller would never learn the id: take the SA back. */
		mutex_lock(&en->lock);
		sa = umigame_esp_remove(en, id);
		mutex_unlock(&en->lock);
		if (sa)
			umigame_esp_sa_release(sa);
		return err;
	}
	return 0;

err_reply:
	nlmsg_free(reply);
err_free:
	umigame_esp_sa_free(sa);
	return err;
}

/* ---- SA_GET, SA_DEL, SA_FLUSH ----------------------------------------- */

static int umigame_esp_fill(struct sk_buff *skb, const struct umigame_esp_sa *sa, u32 portid,
			    u32 seq, int flags)
{
	unsigned int alen = sa->family == AF_INET ? 4 : 16;
	u64 auth_failures = 0, replay_drops = 0;
	void *hdr;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct umigame_esp_pcpu_stats *s = per_cpu_ptr(sa->stats, cpu);

		auth_failures += READ_ONCE(s->auth_failures);
		replay_drops += READ_ONCE(s->replay_drops);
	}

	hdr = genlmsg_put(skb, portid, seq, &umigame_esp_genl_family, flags,
			  UMIGAME_ESP_CMD_SA_GET);
	if (!hdr)
		return -EMSGSIZE;
	/* Every attribute but the keys. */
	if (nla_put_u32(skb, UMIGAME_ESP_A_SA_ID, sa->id) ||
	    nla_put_u32(skb, UMIGAME_ESP_A_SPI, sa->spi) ||
	    nla_put_u16(skb, UMIGAME_ESP_A_FAMILY, sa->family) ||
	    nla_put(skb, UMIGAME_ESP_A_SRC, alen, sa->src) ||
	    nla_put(skb, UMIGAME_ESP_A_DST, alen, sa->dst) ||
	    nla_put_u8(skb, UMIGAME_ESP_A_MODE, sa->mode) ||
	    nla_put_u16(skb, UMIGAME_ESP_A_ENCAP_PORT, sa->encap_port) ||
	    nla_put_u8(skb, UMIGAME_ESP_A_SUITE, sa->suite) ||
	    nla_put_u16(skb, UMIGAME_ESP_A_KEY_BITS, sa->key_bits) ||
	    nla_put_u8(skb, UMIGAME_ESP_A_ICV_LEN, sa->icv_len) ||
	    nla_put_u8(skb, UMIGAME_ESP_A_IV_LEN, sa->iv_len) ||
	    nla_put_string(skb, UMIGAME_ESP_A_CRYPTO_DRIVER, crypto_aead_driver_name(sa->tfm)) ||
	    (sa->simd_tfm && nla_put_string(skb, UMIGAME_ESP_A_CRYPTO_SIMD_DRIVER,
					    crypto_aead_driver_name(sa->simd_tfm))) ||
	    nla_put_u32(skb, UMIGAME_ESP_A_REPLAY_WINDOW, sa->replay_window) ||
	    nla_put_u32(skb, UMIGAME_ESP_A_FLAGS, sa->flags) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_REPLAY_START, sa->replay_start,
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_LIFE_BYTES, sa->life_bytes,
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_LIFE_PACKETS, sa->life_packets,
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_USED_BYTES, atomic64_read(&sa->bytes),
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_USED_PACKETS, atomic64_read(&sa->packets),
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_AUTH_FAILURES, auth_failures,
			      UMIGAME_ESP_A_PAD) ||
	    nla_put_u64_64bit(skb, UMIGAME_ESP_A_REPLAY_DROPS, replay_drops,
			      UMIGAME_ESP_A_PAD) ||
	    (READ_ONCE(sa->expired) && nla_put_flag(skb, UMIGAME_ESP_A_EXPIRED))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int umigame_esp_nl_get(struct sk_buff *skb, struct genl_info *info)
{
	const struct nlattr *attr = info->attrs[UMIGAME_ESP_A_SA_ID];
	struct umigame_esp_sa *sa;
	struct sk_buff *msg;
	int err;

	if (UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_SA_ID, "SA id (or ask for a dump)"))
		return -EINVAL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	rcu_read_lock();
	sa = xa_load(&umigame_esp_net(genl_info_net(info))->sas, nla_get_u32(attr));
	err = sa ? umigame_esp_fill(msg, sa, info->snd_portid, info->snd_seq, 0) : -ENOENT;
	rcu_read_unlock();
	if (err) {
		nlmsg_free(msg);
		if (err == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, attr, "no SA with this id");
		return err;
	}
	return genlmsg_reply(msg, info);
}

/* cb->args[0]: the id to go on from. */
static int umigame_esp_nl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct xarray *sas = &umigame_esp_net(sock_net(skb->sk))->sas;
	struct umigame_esp_sa *sa;
	unsigned long id;
	int err = 0;

	rcu_read_lock();
	xa_for_each_start(sas, id, sa, cb->args[0]) {
		err = umigame_esp_fill(skb, sa, NETLINK_CB(cb->skb).portid,
				       cb->nlh->nlmsg_seq, NLM_F_MULTI);
		if (err)
			break;
		cb->args[0] = id + 1;
	}
	rcu_read_unlock();
	/* A full skb ends this part of the dump; the next one goes on. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ?: skb->len;
}

static int umigame_esp_nl_del(struct sk_buff *skb, struct genl_info *info)
{
	struct umigame_esp_net *en = umigame_esp_net(genl_info_net(info));
	const struct nlattr *attr = info->attrs[UMIGAME_ESP_A_SA_ID];
	struct umigame_esp_sa *sa;

	if (UMIGAME_ESP_NEED(info, UMIGAME_ESP_A_SA_ID, "SA id"))
		return -EINVAL;
	mutex_lock(&en->lock);
	sa = umigame_esp_remove(en, nla_get_u32(attr));
	mutex_unlock(&en->lock);
	if (!sa) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no SA with this id");
		return -ENOENT;
	}
	umigame_esp_sa_release(sa);
	return 0;
}

static int umigame_esp_nl_flush(struct sk_buff *skb, struct genl_info *info)
{
	umigame_esp_flush(umigame_esp_net(genl_info_net(info)));
	return 0;
}

/* ---- the family ------------------------------------------------------- */

/*
 * Exact where the protocol is exact; keys and ICV lengths depend on the
 * suite and get their own messages in umigame_esp_parse(). Attributes only
 * replies carry are absent here, so strict validation refuses them in a
 * request.
 */
static const struct nla_policy umigame_esp_policy[UMIGAME_ESP_A_MAX + 1] = {
	[UMIGAME_ESP_A_SA_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[UMIGAME_ESP_A_SPI]		= NLA_POLICY_MIN(NLA_U32, 1),
	[UMIGAME_ESP_A_FAMILY]		= { .type = NLA_U16 },
	[UMIGAME_ESP_A_SRC]		= NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[UMIGAME_ESP_A_DST]		= NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[UMIGAME_ESP_A_MODE]		= NLA_POLICY_MAX(NLA_U8, UMIGAME_ESP_MODE_TUNNEL),
	[UMIGAME_ESP_A_ENCAP_PORT]	= { .type = NLA_U16 },
	[UMIGAME_ESP_A_SUITE]		= { .type = NLA_U8 },
	[UMIGAME_ESP_A_ENC_KEY]		= { .type = NLA_BINARY, .len = UMIGAME_ESP_MAX_KEY },
	[UMIGAME_ESP_A_AUTH_KEY]	= { .type = NLA_BINARY, .len = UMIGAME_ESP_MAX_KEY },
	[UMIGAME_ESP_A_ICV_LEN]		= { .type = NLA_U8 },
	[UMIGAME_ESP_A_REPLAY_WINDOW]	= { .type = NLA_U32 },
	[UMIGAME_ESP_A_FLAGS]		= { .type = NLA_U32 },
	[UMIGAME_ESP_A_LIFE_BYTES]	= { .type = NLA_U64 },
	[UMIGAME_ESP_A_LIFE_PACKETS]	= { .type = NLA_U64 },
	[UMIGAME_ESP_A_REPLAY_START]	= { .type = NLA_U64 },
};

/*
 * SAs hold keys and decide what XDP lets through: CAP_NET_ADMIN for all,
 * reading included.
 */
static const struct genl_small_ops umigame_esp_genl_ops[] = {
	{
		.cmd = UMIGAME_ESP_CMD_SA_ADD,
		.doit = umigame_esp_nl_add,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_ESP_CMD_SA_DEL,
		.doit = umigame_esp_nl_del,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_ESP_CMD_SA_GET,
		.doit = umigame_esp_nl_get,
		.dumpit = umigame_esp_nl_dump,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = UMIGAME_ESP_CMD_SA_FLUSH,
		.doit = umigame_esp_nl_flush,
		.flags = GENL_ADMIN_PERM,
	},
};

/*
 * netnsok: a command acts on the table of the namespace its socket lives in
 * (genl_info_net(), sock_net() for dumps), so the CLI and the daemons
 * manage the namespace they run in. GENL_ADMIN_PERM still asks for
 * CAP_NET_ADMIN in the initial user namespace: a namespace's own root
 * cannot add SAs (kernel memory, crypto transforms). resv_start_op 0: every
 * command is validated strictly.
 */
static struct genl_family umigame_esp_genl_family __ro_after_init = {
	.name = UMIGAME_ESP_GENL_NAME,
	.version = UMIGAME_ESP_GENL_VERSION,
	.maxattr = UMIGAME_ESP_A_MAX,
	.policy = umigame_esp_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = umigame_esp_genl_ops,
	.n_small_ops = ARRAY_SIZE(umigame_esp_genl_ops),
};

/* ---- namespaces -------------------------------------------------------- */

static int __net_init umigame_esp_net_init(struct net *net)
{
	struct umigame_esp_net *en = umigame_esp_net(net);

	xa_init_flags(&en->sas, XA_FLAGS_ALLOC1);
	mutex_init(&en->lock);
	return 0;
}

/*
 * The namespace is going: its devices are gone (unregistered, or moved to
 * the initial namespace after a synchronize_net()), so no packet of its own
 * can reach a kfunc any more, and no socket is left in it to send a command.
 * Or the module is going, which neither an attached program (it holds the
 * module through the kfunc) nor a command allows. Its SAs take the path
 * SA_DEL takes: out of the table, freed after a grace period.
 */
static void __net_exit umigame_esp_net_exit(struct net *net)
{
	struct umigame_esp_net *en = umigame_esp_net(net);
	unsigned int n = umigame_esp_flush(en);

	if (n)
		pr_info("esp: freed %u SAs of netns %u\n", n, net->ns.inum);
	xa_destroy(&en->sas);
	mutex_destroy(&en->lock);
}

static struct pernet_operations umigame_esp_net_ops = {
	.init = umigame_esp_net_init,
	.exit = umigame_esp_net_exit,
	.id = &umigame_esp_net_id,
	.size = sizeof(struct umigame_esp_net),
};

/*
 * debugfs umigame/esp_sas: the SAs the module holds memory for (in every
 * namespace, including those removed and waiting for their grace period),
 * then, per namespace that has any, the SAs in its table. What a test reads
 * to see that a namespace's SAs left with it.
 */
static int umigame_esp_sas_show(struct seq_file *m, void *v)
{
	struct net *net;
	unsigned int n;

	seq_printf(m, "allocated %d\n", atomic_read(&umigame_esp_sa_objects));
	/* cleanup_net() unlists a namespace, then waits a grace period. */
	rcu_read_lock();
	for_each_net_rcu(net) {
		n = READ_ONCE(umigame_esp_net(net)->count);
		if (n)
			seq_printf(m, "netns %u sas %u\n", net->ns.inum, n);
	}
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(umigame_esp_sas);

int umigame_esp_init(void)
{
	int ret;

	/* Frees run here after a grace period; exit waits for this queue. */
	umigame_esp_wq = alloc_workqueue("umigame_esp", 0, 0);
	if (!umigame_esp_wq)
		return -ENOMEM;
	/* Every namespace's table exists before a command can reach one. */
	ret = register_pernet_subsys(&umigame_esp_net_ops);
	if (ret < 0)
		goto err_pernet;
	ret = genl_register_family(&umigame_esp_genl_family);
	if (ret < 0)
		goto err_genl;
	/* debugfs: errors are not ours to handle (a missing file is fine). */
	umigame_esp_debugfs = debugfs_create_file("esp_sas", 0400, umigame_debugfs, NULL,
						  &umigame_esp_sas_fops);
	return 0;

err_genl:
	unregister_pernet_subsys(&umigame_esp_net_ops);
err_pernet:
	destroy_workqueue(umigame_esp_wq);
	return ret;
}

void umigame_esp_exit(void)
{
	/* Undo umigame_esp_init() in reverse order. */
	debugfs_remove(umigame_esp_debugfs);
	/* No new SA after this: no command is running or can start. */
	genl_unregister_family(&umigame_esp_genl_family);
	/* Every namespace's SAs, as when a namespace goes (net_exit above). */
	unregister_pernet_subsys(&umigame_esp_net_ops);
	/*
	 * queue_rcu_work() waits out the grace period with call_rcu(), whose
	 * callback queues the free: wait for those callbacks, then for the
	 * frees themselves (destroy_workqueue() drains the queue).
	 */
	rcu_barrier();
	destroy_workqueue(umigame_esp_wq);
	WARN_ON_ONCE(atomic_read(&umigame_esp_sa_objects));
}
