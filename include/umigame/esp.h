/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ESP (RFC 4303) decrypt in XDP: the interface between its three parts.
 *
 *   umigame.ko   owns the SAs' keys and crypto transforms; userspace adds,
 *                lists and removes SAs over the generic-netlink family
 *                UMIGAME_ESP_GENL_NAME (CAP_NET_ADMIN). Keys never leave the
 *                module: SA_GET and dumps never carry them. Each network
 *                namespace has its own SAs and SA ids: commands act on the
 *                namespace of their netlink socket, the kfuncs on the
 *                namespace of the device the packet came in on.
 *   XDP program  (bpf/esp.bpf.c) finds the SA in the esp_sas map, checks the
 *                replay window (include/umigame/replay.h) before any crypto,
 *                calls the module's kfunc to decrypt and verify in place,
 *                then advances the window and strips the ESP framing.
 *   CLI/daemons  add an SA to the module first (which picks the SA id), then
 *                put the id with the SA's lookup key into esp_sas.
 *
 * Everything here is plain UAPI types so the module, BPF and userspace use
 * the same header.
 */
#ifndef UMIGAME_ESP_H
#define UMIGAME_ESP_H

#include <linux/bpf.h>
#include <linux/types.h>

#include "umigame/replay.h"

#define UMIGAME_ESP_GENL_NAME    "umigame_esp"
#define UMIGAME_ESP_GENL_VERSION 1

enum umigame_esp_cmd {
	UMIGAME_ESP_CMD_UNSPEC,
	UMIGAME_ESP_CMD_SA_ADD,   /* all SA attributes; replies with SA_ID */
	UMIGAME_ESP_CMD_SA_DEL,   /* SA_ID */
	UMIGAME_ESP_CMD_SA_GET,   /* SA_ID, or NLM_F_DUMP for all; never keys */
	UMIGAME_ESP_CMD_SA_FLUSH, /* delete every SA */
	__UMIGAME_ESP_CMD_MAX,
};
#define UMIGAME_ESP_CMD_MAX (__UMIGAME_ESP_CMD_MAX - 1)

enum umigame_esp_attr {
	UMIGAME_ESP_A_UNSPEC,
	UMIGAME_ESP_A_SA_ID,         /* u32, chosen by the module, >= 1 */
	UMIGAME_ESP_A_SPI,           /* u32, host order, not 0 */
	UMIGAME_ESP_A_FAMILY,        /* u16: AF_INET or AF_INET6 (outer header) */
	UMIGAME_ESP_A_SRC,           /* binary, 4 or 16 bytes: outer source */
	UMIGAME_ESP_A_DST,           /* binary, 4 or 16 bytes: outer destination */
	UMIGAME_ESP_A_MODE,          /* u8: enum umigame_esp_mode */
	UMIGAME_ESP_A_ENCAP_PORT,    /* u16, host order: UDP destination port (RFC 3948), 0 = none */
	UMIGAME_ESP_A_SUITE,         /* u8: enum umigame_esp_suite */
	UMIGAME_ESP_A_ENC_KEY,       /* binary: cipher key (GCM: key || 4-byte salt) */
	UMIGAME_ESP_A_AUTH_KEY,      /* binary: HMAC key (CBC + HMAC suites only) */
	UMIGAME_ESP_A_ICV_LEN,       /* u8: ICV bytes (GCM 8/12/16, HMAC-SHA256 16); default 16 */
	UMIGAME_ESP_A_REPLAY_WINDOW, /* u32: packets, 0 = no replay check, else a power of
	                              * two from UMIGAME_REPLAY_MIN_WINDOW to _MAX_WINDOW */
	UMIGAME_ESP_A_FLAGS,         /* u32: UMIGAME_ESP_F_*; ESN needs a replay window */
	UMIGAME_ESP_A_LIFE_BYTES,    /* u64: hard byte lifetime, 0 = unlimited */
	UMIGAME_ESP_A_LIFE_PACKETS,  /* u64: hard packet lifetime, 0 = unlimited */
	UMIGAME_ESP_A_USED_BYTES,    /* u64 (GET): plaintext bytes decrypted so far (payload,
	                              * padding and trailer); LIFE_BYTES counts these */
	UMIGAME_ESP_A_USED_PACKETS,  /* u64 (GET): packets decrypted so far */
	UMIGAME_ESP_A_AUTH_FAILURES, /* u64 (GET): packets whose ICV did not verify */
	UMIGAME_ESP_A_EXPIRED,       /* flag (GET): a hard lifetime ran out */
	UMIGAME_ESP_A_PAD,           /* alignment of the u64 attributes in replies */
	UMIGAME_ESP_A_REPLAY_DROPS,  /* u64 (GET): drops the XDP side reported through
	                              * umigame_esp_note_replay() */
	UMIGAME_ESP_A_KEY_BITS,      /* u16 (GET): AES key size, 128/192/256 (never the key) */
	UMIGAME_ESP_A_IV_LEN,        /* u8 (GET): IV bytes after the ESP header (GCM 8, CBC 16) */
	UMIGAME_ESP_A_REPLAY_START,  /* u64: where the replay window starts, the highest number
	                              * taken as received (0: a new SA; ip xfrm's replay-seq and
	                              * replay-seq-hi). Above 2^32 - 1 needs ESN. The module only
	                              * keeps it for whoever sets up the window. */
	UMIGAME_ESP_A_CRYPTO_DRIVER, /* string (GET): the crypto driver that decrypts when the
	                              * SIMD one cannot (or always, without SIMD_DRIVER) */
	UMIGAME_ESP_A_CRYPTO_SIMD_DRIVER, /* string (GET): the SIMD driver that decrypts while
	                              * the FPU is usable (AES-NI on x86); absent: none */
	__UMIGAME_ESP_A_MAX,
};
#define UMIGAME_ESP_A_MAX (__UMIGAME_ESP_A_MAX - 1)

enum umigame_esp_mode {
	UMIGAME_ESP_MODE_TRANSPORT = 0,
	UMIGAME_ESP_MODE_TUNNEL = 1,
};

enum umigame_esp_suite {
	UMIGAME_ESP_SUITE_NONE = 0,
	UMIGAME_ESP_SUITE_AES_GCM = 1,          /* rfc4106(gcm(aes)), 16/32-byte key + salt */
	UMIGAME_ESP_SUITE_AES_CBC_SHA256 = 2,   /* authenc(hmac(sha256),cbc(aes)) */
};

#define UMIGAME_ESP_F_ESN (1U << 0) /* 64-bit extended sequence numbers */
#define UMIGAME_ESP_F_ALL UMIGAME_ESP_F_ESN

/* Largest ICV and IV any suite uses; the XDP program bounds its reads. */
#define UMIGAME_ESP_MAX_ICV 16
#define UMIGAME_ESP_MAX_IV  16

/*
 * The kfunc the XDP program calls (module BTF, BPF_PROG_TYPE_XDP):
 *
 *   int umigame_esp_decrypt(struct xdp_md *ctx, __u32 sa_id,
 *                           __u32 esp_off, __u32 seq_hi);
 *
 * esp_off is the offset of the ESP header from the start of the packet
 * (ctx->data), seq_hi the high 32 bits of the sequence number as the replay
 * window inferred them (RFC 4303 Appendix A; ignored without ESN). The ESP
 * packet runs to the end of the packet (ctx->data_end): the caller trims any
 * link-layer padding or trailing bytes first (bpf_xdp_adjust_tail). Only
 * linear packets: a multi-buffer (frags) packet gives -EINVAL. The payload
 * after the IV up to the ICV is decrypted in place and the ICV verified; the
 * ESP header and IV are left as they were (not the ICV: authencesn uses its
 * first 4 bytes as scratch). sa_id is looked up among the SAs of the
 * namespace of the receiving device (ctx's rxq; in a test run, the caller's
 * namespace). Returns the length of the plaintext (padding and trailer
 * included, IV and ICV not) on success, or a negative errno: -ENOENT unknown SA, -EBADMSG ICV mismatch (the packet
 * then holds garbage and must be dropped; counted in AUTH_FAILURES),
 * -EINVAL malformed lengths (the packet is untouched), -EKEYEXPIRED a hard
 * lifetime ran out, -EBUSY crypto resources.
 *
 *   void umigame_esp_note_replay(struct xdp_md *ctx, __u32 sa_id, __u64 seq);
 *
 * The XDP side reports a packet its replay window dropped (seq: the inferred
 * 64-bit number); the module counts it in REPLAY_DROPS of the SA sa_id of
 * ctx's namespace and fires the umigame:esp_replay tracepoint. Unknown ids
 * are ignored.
 *
 * Tracepoints (perf list 'umigame:*'): esp_decrypt_ok, esp_auth_fail,
 * esp_unknown_sa, esp_replay; fields netns (the namespace's inode number),
 * sa_id, spi, seq, len.
 */

/* SA ids are below this, so per-SA counters are an array indexed by id. */
#define UMIGAME_ESP_MAX_SAS 4096

/* esp_sas (BPF hash map): lookup key of an inbound SA. */
struct umigame_esp_sa_key {
	__u32 spi;       /* network order, as on the wire */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 encap_port;/* UDP destination port for ESP-in-UDP, else 0 */
	__u8 daddr[16];  /* outer destination; IPv4 in the first 4 bytes */
};

/* esp_sas value: what the XDP program needs, no keys. The replay window
 * lives here, under the value's spin lock, so the check before decryption
 * costs no kfunc call. Userspace writes entries with BPF_F_LOCK. */
struct umigame_esp_sa_value {
	struct bpf_spin_lock lock;
	__u32 sa_id;         /* the module's SA id, < UMIGAME_ESP_MAX_SAS */
	__u8 mode;           /* enum umigame_esp_mode */
	__u8 iv_len;         /* bytes of IV after the ESP header (GCM 8, CBC 16) */
	__u8 icv_len;
	__u8 pad;
	__u32 flags;         /* UMIGAME_ESP_F_* */
	struct umigame_replay_window window;
};

/* esp_sa_counters (per-CPU array, index sa_id). */
struct umigame_esp_sa_counters {
	__u64 packets;       /* decrypted and passed on */
	__u64 bytes;         /* inner bytes passed on */
	__u64 replay_drops;
	__u64 auth_failures;
	__u64 errors;        /* malformed after decryption, strip failures */
};

/* esp_stats (per-CPU array, one slot per reason): every ESP packet seen. */
enum umigame_esp_reason {
	UMIGAME_ESP_DECRYPTED = 0,    /* pass: decrypted, inner packet handed on */
	UMIGAME_ESP_TO_XFRM,          /* pass: module absent, kernel xfrm decides */
	UMIGAME_ESP_UNKNOWN_SPI_PASS, /* pass: no SA here, policy says pass */
	UMIGAME_ESP_NOT_LINEAR,       /* pass: fragment or headers we leave to the kernel */
	UMIGAME_ESP_FORWARDED,        /* redirect: decrypted, the inner packet forwarded in XDP
	                               * (`umigame esp forward`); not counted as decrypted */
	UMIGAME_ESP_UNKNOWN_SPI,      /* drop: no SA for SPI/destination */
	UMIGAME_ESP_REPLAY,           /* drop: duplicate or left of the window */
	UMIGAME_ESP_AUTH_FAILED,      /* drop: ICV did not verify */
	UMIGAME_ESP_MALFORMED,        /* drop: truncated or inconsistent */
	UMIGAME_ESP_EXPIRED,          /* drop: hard lifetime reached */
	UMIGAME_ESP_CRYPTO_ERROR,     /* drop: the module could not decrypt */
	UMIGAME_ESP_BAD_TRAILER,      /* drop: padding/next header inconsistent */
	UMIGAME_ESP_REASON_COUNT,
};
#define UMIGAME_ESP_FIRST_DROP UMIGAME_ESP_UNKNOWN_SPI

/* esp_config (array, one entry): set by `umigame esp attach` and
 * `umigame esp forward`. */
struct umigame_esp_config {
	__u32 drop_unknown_spi; /* 1: drop ESP for SPIs without an SA here */
	__u32 xdp_forward;      /* 1: forward tunnels' inner packets in XDP to the
	                         * ports in esp_fwd_ports where the route allows */
};

/* esp_fwd_ports (BPF devmap hash, key and value an ifindex): the ports a
 * decrypted inner packet may leave by straight from XDP. Each must take
 * XDP frames (ndo_xdp_xmit). */
#define UMIGAME_ESP_MAX_FWD_PORTS 64

#endif /* UMIGAME_ESP_H */
