#!/usr/bin/python3
"""Build ESP test frames with scapy (an implementation independent of ours).

    make_frames.py OUTDIR

Writes OUTDIR/<case>.in (the Ethernet frame as received), OUTDIR/<case>.out
(what the XDP program must leave in the buffer when it passes the frame, for
cases that decrypt) and OUTDIR/manifest: one line per SA

    sa NAME <umigame sa add arguments>

then one line per frame, in the order to run them,

    frame CASE SA_NAME VERDICT REASON

VERDICT is XDP_PASS or XDP_DROP, REASON an esp_stats reason name. The XDP
program runs on the frames in order, so replays follow their originals.
Building frames on the host is much faster than under TCG in the guest.
"""
import os
import sys

from scapy.all import ESP, IP, IPv6, UDP, ICMP, Ether, Raw, raw  # noqa: F401
from scapy.layers.ipsec import SecurityAssociation

MAC_RX = "02:00:00:00:00:02"
MAC_TX = "02:00:00:00:00:01"

KEY128 = bytes(range(1, 17)) + b"\xa1\xa2\xa3\xa4"          # key || salt
KEY256 = bytes(range(0x21, 0x41)) + b"\xb1\xb2\xb3\xb4"
CBC_KEY = bytes(range(0x41, 0x51))
HMAC_KEY = bytes(range(0x61, 0x81))

OUT6 = ("2001:db8:ffff::1", "2001:db8:ffff::2")
OUT4 = ("192.0.2.1", "192.0.2.2")
IN6 = ("2001:db8:1::1", "2001:db8:2::1")
IN4 = ("10.1.0.1", "10.2.0.1")


def hexkey(b):
    return "0x" + b.hex()


class Builder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.lines = []

    def sa(self, name, args):
        self.lines.append("sa %s %s" % (name, " ".join(args)))

    def frame(self, case, sa_name, wire, expect=None, verdict="XDP_PASS",
              reason="decrypted"):
        eth = Ether(src=MAC_TX, dst=MAC_RX)
        with open(os.path.join(self.outdir, case + ".in"), "wb") as f:
            f.write(raw(eth / wire))
        if expect is not None:
            ethtype = 0x86DD if expect.version == 6 else 0x0800
            with open(os.path.join(self.outdir, case + ".out"), "wb") as f:
                f.write(raw(Ether(src=MAC_TX, dst=MAC_RX, type=ethtype) / expect))
        self.lines.append("frame %s %s %s %s" % (case, sa_name, verdict, reason))

    def write_manifest(self):
        with open(os.path.join(self.outdir, "manifest"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


def gcm(spi, outer, key, tunnel=True, esn=False, nat_t=False):
    hdr = None
    if tunnel:
        hdr = IPv6(src=outer[0], dst=outer[1]) if ":" in outer[0] else \
            IP(src=outer[0], dst=outer[1])
    return SecurityAssociation(
        ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key, auth_algo="NULL",
        tunnel_header=hdr, esn_en=esn,
        nat_t_header=UDP(sport=4500, dport=4500) if nat_t else None)


def sa_args(spi, outer, key_args, mode="tunnel", extra=()):
    return ["src", outer[0], "dst", outer[1], "spi", hex(spi), "mode", mode] + \
        list(key_args) + list(extra)


def encrypt(sa, pkt, seq, esn_hi=0):
    # scapy replaces a sequence number of 0 (and an ESN high half of 0) by
    # the SA's own: set both on the SA, then let it use them.
    sa.seq_num = seq
    sa.esn = esn_hi
    return sa.encrypt(pkt)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    b = Builder(outdir)
    gcm128 = ["aead", "rfc4106(gcm(aes))", hexkey(KEY128), "128"]
    gcm256 = ["aead", "rfc4106(gcm(aes))", hexkey(KEY256), "128"]

    inner6 = IPv6(src=IN6[0], dst=IN6[1], hlim=63) / UDP(sport=1234, dport=5678) / \
        Raw(b"umigame esp over ipv6" * 3)
    inner4 = IP(src=IN4[0], dst=IN4[1], ttl=63, id=7) / ICMP(id=1, seq=1) / \
        Raw(b"umigame esp over ipv4" * 2)

    # RFC 4303 §3.4 tunnel mode, IPv6 outer, AES-GCM-128 (RFC 4106).
    sa = gcm(0x1001, OUT6, KEY128)
    b.sa("t6", sa_args(0x1001, OUT6, gcm128, extra=["replay-window", "64"]))
    first = encrypt(sa, inner6, 1)
    b.frame("tunnel6_gcm128", "t6", first, inner6)
    b.frame("tunnel6_gcm128_seq5", "t6", encrypt(sa, inner6, 5), inner6)
    b.frame("tunnel6_gcm128_seq3_reordered", "t6", encrypt(sa, inner6, 3), inner6)
    # RFC 4303 §3.4.3: a replay is dropped before any crypto.
    b.frame("tunnel6_replay", "t6", first, None, "XDP_DROP", "replay")
    # RFC 4303 §3.4.4: a flipped ICV bit fails integrity.
    bad = bytearray(raw(encrypt(sa, inner6, 6)))
    bad[-1] ^= 0x01
    b.frame("tunnel6_flipped_icv", "t6", IPv6(bytes(bad)), None, "XDP_DROP", "auth_failed")
    # The failed packet's number stays free: its genuine copy still passes.
    b.frame("tunnel6_seq6_after_forgery", "t6", encrypt(sa, inner6, 6), inner6)
    bad = bytearray(raw(encrypt(sa, inner6, 7)))
    bad[60] ^= 0x80  # a ciphertext bit
    b.frame("tunnel6_flipped_ciphertext", "t6", IPv6(bytes(bad)), None, "XDP_DROP",
            "auth_failed")

    # Bytes after the IP packet (Ethernet padding, a NIC's trailer) are not
    # ESP: cut off before decryption, the frame still decrypts.
    b.frame("tunnel6_frame_trailer", "t6", IPv6(raw(encrypt(sa, inner6, 8))) /
            Raw(b"\0" * 6), inner6)
    # A frame shorter than its IP header says: refused.
    short = raw(encrypt(sa, inner6, 9))[:-4]
    b.frame("tunnel6_shorter_than_ip", "t6", IPv6(short), None, "XDP_DROP", "malformed")

    # IPv4 outer carrying IPv4, AES-GCM-256.
    sa = gcm(0x2002, OUT4, KEY256)
    b.sa("t4", sa_args(0x2002, OUT4, gcm256, extra=["replay-window", "1024"]))
    b.frame("tunnel4_gcm256", "t4", encrypt(sa, inner4, 1), inner4)

    # RFC 3948 UDP encapsulation, IPv4 outer.
    sa = gcm(0x3003, OUT4, KEY128, nat_t=True)
    b.sa("u4", sa_args(0x3003, OUT4, gcm128, extra=["encap-port", "4500"]))
    b.frame("udp_encap4_gcm128", "u4", encrypt(sa, inner6, 1), inner6)

    # Transport mode, IPv6 and IPv4: the outer header stays, rewritten back
    # to what the sender had before ESP went in (checksums frozen first).
    sa = gcm(0x4004, OUT6, KEY128, tunnel=False)
    b.sa("tr6", sa_args(0x4004, OUT6, gcm128, mode="transport"))
    plain6 = IPv6(raw(IPv6(src=OUT6[0], dst=OUT6[1], hlim=64) /
                      UDP(sport=1111, dport=2222) / Raw(b"transport payload six")))
    b.frame("transport6_gcm128", "tr6", encrypt(sa, plain6.copy(), 1), plain6)
    sa = gcm(0x5005, OUT4, KEY128, tunnel=False)
    b.sa("tr4", sa_args(0x5005, OUT4, gcm128, mode="transport"))
    plain4 = IP(raw(IP(src=OUT4[0], dst=OUT4[1], ttl=64, id=9) /
                    UDP(sport=1111, dport=2222) / Raw(b"transport payload four")))
    b.frame("transport4_gcm128", "tr4", encrypt(sa, plain4.copy(), 1), plain4)

    # AES-CBC + HMAC-SHA-256-128 (RFC 3602, RFC 4868), tunnel, IPv6.
    sa = SecurityAssociation(ESP, spi=0x6006, crypt_algo="AES-CBC", crypt_key=CBC_KEY,
                             auth_algo="SHA2-256-128", auth_key=HMAC_KEY,
                             tunnel_header=IPv6(src=OUT6[0], dst=OUT6[1]))
    b.sa("cbc", sa_args(0x6006, OUT6, ["enc", "cbc(aes)", hexkey(CBC_KEY),
                                       "auth", "hmac(sha256)", hexkey(HMAC_KEY)]))
    b.frame("tunnel6_cbc_sha256", "cbc", encrypt(sa, inner6, 1), inner6)

    # RFC 4303 Appendix A: ESN across the 2^32 boundary. The receiver is
    # told where the sender starts, as `ip xfrm state ... replay-seq` does.
    sa = gcm(0x7007, OUT6, KEY128, esn=True)
    b.sa("esn", sa_args(0x7007, OUT6, gcm128,
                        extra=["replay-window", "4096", "flag", "esn",
                               "replay-seq", hex(0xfffffff0)]))
    for seq in (0xfffffffe, 0xffffffff, 0x100000000, 0x100000001):
        b.frame("esn_%x" % seq, "esn", encrypt(sa, inner6, seq & 0xffffffff, seq >> 32),
                inner6)
    # A frame encrypted with the wrong high half (no ESN in the AAD) fails.
    b.frame("esn_wrong_high_bits", "esn", encrypt(sa, inner6, 2, 0), None, "XDP_DROP",
            "auth_failed")

    # Garbage behind a valid SPI and sequence number: the ICV fails.
    garbage = IPv6(src=OUT6[0], dst=OUT6[1], nh=50) / Raw(
        bytes.fromhex("00001001") + (50).to_bytes(4, "big") + os.urandom(120))
    b.frame("tunnel6_garbage", "t6", garbage, None, "XDP_DROP", "auth_failed")
    # Shorter than IV + ICV + trailer can be: refused before the crypto.
    short = IPv6(src=OUT6[0], dst=OUT6[1], nh=50) / Raw(
        bytes.fromhex("00001001") + (51).to_bytes(4, "big") + b"\x00" * 12)
    b.frame("tunnel6_too_short", "t6", short, None, "XDP_DROP", "malformed")

    # Unknown SPI: passed to the kernel untouched unless told to drop.
    sa = gcm(0xdead, OUT6, KEY128)
    b.frame("unknown_spi", "-", encrypt(sa, inner6, 1), None, "XDP_PASS", "unknown_spi_pass")

    # Every truncation of a valid frame: never a pass of garbage, never an error.
    sa = gcm(0x1001, OUT6, KEY128)
    full = raw(Ether(src=MAC_TX, dst=MAC_RX) / encrypt(sa, inner6, 40))
    with open(os.path.join(outdir, "truncate.in"), "wb") as f:
        f.write(full)
    b.lines.append("truncate truncate t6 %d" % len(full))
    b.write_manifest()


if __name__ == "__main__":
    main()
