#!/usr/bin/python3
"""A burst of ESP packets reordered by 20000, then replayed, as a pcap.

    make_reorder_pcap.py OUTDIR [COUNT]

OUTDIR/reorder.pcap holds COUNT (default 40000) IPv6-in-IPv6 tunnel-mode
ESP packets of one AES-GCM-128 ESN SA (SPI 0x900), each carrying a UDP
datagram to [2001:db8:2::1]:6000: first numbers COUNT/2+1..COUNT, then
1..COUNT/2 (every packet arrives COUNT/2 places late or early), then all
COUNT again (replays). OUTDIR/reorder.env gives the SA to the test.

scapy is too slow for 80000 packets, so the ESP framing (RFC 4303, RFC 4106
§5 with the ESN high half in the AAD) is built here with python3-cryptography;
the first packets are checked against scapy's own decryption, so this
builder cannot drift from an independent implementation.
"""
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import socket

from scapy.all import IPv6, UDP, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation

SPI = 0x900
KEY = bytes(range(0x51, 0x61))
SALT = b"\xc1\xc2\xc3\xc4"
OUT = ("2001:db8:ffff::1", "2001:db8:ffff::2")
INNER = ("2001:db8:1::1", "2001:db8:2::1")
MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")


def ipv6_header(src, dst, nh, plen, hlim):
    return struct.pack(">IHBB", 6 << 28, plen, nh, hlim) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def inner_udp(payload):
    """IPv6/UDP to INNER[1]:6000, checksum included (mandatory in IPv6)."""
    src, dst = (socket.inet_pton(socket.AF_INET6, a) for a in INNER)
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack(">IxxxB", length, 17)
    udp = struct.pack(">HHHH", 6000, 6000, length, 0) + payload
    csum = checksum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack(">H", csum) + udp[8:]
    return ipv6_header(INNER[0], INNER[1], 17, length, 63) + udp


def esp_packet(aead, seq, inner):
    """IPv6 / ESP(tunnel) of the inner packet bytes, sequence number seq
    (64-bit, ESN)."""
    pad = (-(len(inner) + 2)) % 4
    plain = inner + bytes(range(1, pad + 1)) + bytes([pad, 41])
    iv = struct.pack(">Q", seq)  # unique per packet, as RFC 4106 §3.1 asks
    header = struct.pack(">II", SPI, seq & 0xffffffff)
    aad = struct.pack(">III", SPI, seq >> 32, seq & 0xffffffff)
    esp = header + iv + aead.encrypt(SALT + iv, plain, aad)
    return ipv6_header(OUT[0], OUT[1], 50, len(esp), 64) + esp


def main():
    outdir = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    half = count // 2
    os.makedirs(outdir, exist_ok=True)
    aead = AESGCM(KEY)
    # The builder against scapy: its decryption, its UDP checksum.
    check = SecurityAssociation(ESP, spi=SPI, crypt_algo="AES-GCM", crypt_key=KEY + SALT,
                                auth_algo="NULL", tunnel_header=IPv6(src=OUT[0], dst=OUT[1]),
                                esn_en=True)
    want = IPv6(src=INNER[0], dst=INNER[1], hlim=63) / UDP(sport=6000, dport=6000) / \
        Raw(b"check")
    assert inner_udp(b"check") == raw(want), "inner packet differs from scapy's"
    for seq in (1, 2, (1 << 32) + 5):
        check.esn = seq >> 32
        plain = check.decrypt(IPv6(esp_packet(aead, seq, inner_udp(b"check"))))
        assert raw(plain) == raw(want), "ESP differs from scapy's"

    order = list(range(half + 1, count + 1)) + list(range(1, half + 1))
    order += list(range(1, count + 1))
    eth = bytes.fromhex(MACS[1].replace(":", "") + MACS[0].replace(":", "")) + b"\x86\xdd"
    with open(os.path.join(outdir, "reorder.pcap"), "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))  # Ethernet
        for seq in order:
            frame = eth + esp_packet(aead, seq, inner_udp(b"seq %d" % seq))
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
    with open(os.path.join(outdir, "reorder.env"), "w") as f:
        f.write("SPI=0x%x\nKEY=0x%s\nCOUNT=%d\n" % (SPI, (KEY + SALT).hex(), count))


if __name__ == "__main__":
    main()
