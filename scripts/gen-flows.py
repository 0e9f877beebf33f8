#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write a pcap of 64-byte UDP frames for the benchmarks.

  gen-flows.py OUT.pcap DST_MAC N spread|unique

spread: N flows over 16 destination /24s (198.18.0-15.x), source address and
        port varying (bench-l3fwd.sh, bench-nat.sh established sessions);
unique: N packets, each a new inside endpoint (bench-nat.sh new sessions).

Built from one template patched per packet: scapy per packet is too slow for
a million packets.  The UDP checksum is zero (RFC 768 allows it); the IP
checksum is right."""

import struct
import sys

from scapy.all import IP, UDP, Ether, raw


def csum(hdr):
    s = sum(struct.unpack("!10H", bytes(hdr)))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def main():
    out, mac, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tmpl = bytearray(raw(Ether(dst=mac, src="02:00:00:00:00:10") /
                         IP(src="10.1.0.1", dst="198.18.0.1", ttl=64) /
                         UDP(sport=1024, dport=9) / (b"\0" * 18)))
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            p = bytearray(tmpl)
            if mode == "spread":
                src = (10 << 24) | ((1 + (i >> 14)) << 16) | (((i >> 6) & 0xff) << 8) | (1 + i % 64)
                dst = (198 << 24) | (18 << 16) | ((i % 16) << 8) | (1 + (i // 16) % 250)
                sport = 1024 + i % 60000
            else:
                src = (10 << 24) | ((i >> 3) + 65536)  # 8 endpoints per address
                dst = (198 << 24) | (18 << 16) | ((i % 16) << 8) | 1
                sport = 1024 + (i & 7)
            p[26:30] = struct.pack("!I", src)
            p[30:34] = struct.pack("!I", dst)
            p[24:26] = b"\0\0"
            p[24:26] = struct.pack("!H", csum(p[14:34]))
            p[34:36] = struct.pack("!H", sport)
            p[40:42] = b"\0\0"
            f.write(struct.pack("<IIII", 0, 0, len(p), len(p)))
            f.write(p)


main()
