"""A small network made of Linux network namespaces, for tests that cross a real NAT.

::

    cli (192.168.7.2) ── rt ── srv (10.7.0.2, public 203.0.113.10 by 1:1 NAT)
     "home", behind      │
     masquerade          └──── turn (198.51.100.3, coturn)

``rt`` routes between the three and does the NAT with nftables: everything the home
network sends out is masqueraded, nothing new gets into it; the server is reachable only
at its public address (DNAT/SNAT 1:1, as a cloud VM is), never at its private one. The
addresses are documentation ranges and every interface lives in the test's own
namespaces: nothing leaves the machine. Names carry a random tag; :meth:`close` removes
everything (deleting a namespace deletes its veths and nft tables).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence

CLI_IP = "192.168.7.2"
SRV_IP = "10.7.0.2"
SRV_PUBLIC_IP = "203.0.113.10"
TURN_IP = "198.51.100.3"
RT_WAN_IP = "198.51.100.1"


class NetnsUnavailable(Exception):
    """This machine does not let us create network namespaces (not root, no CAP_NET_ADMIN,
    a container without it, no ip/nft binaries)."""


def run(*cmd: str, input: str | None = None) -> str:
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def probe() -> None:
    """Raise NetnsUnavailable with the reason if namespaces cannot be made here."""
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"{tool} not installed (Debian iproute2 / nftables)")
    if os.geteuid() != 0:
        raise NetnsUnavailable("needs root (CAP_NET_ADMIN) to create network namespaces")
    name = f"vrprobe{secrets.token_hex(3)}"
    try:
        run("ip", "netns", "add", name)
    except RuntimeError as exc:
        raise NetnsUnavailable(f"ip netns add refused: {exc}") from None
    try:
        run("ip", "netns", "exec", name, "nft", "list", "tables")
    except RuntimeError as exc:
        raise NetnsUnavailable(f"nftables unusable in a namespace: {exc}") from None
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


class Topology:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.tag = tag
        self.ns = {role: f"vr{tag}{role}" for role in ("rt", "cli", "srv", "turn")}
        # veth names: at most 15 characters.
        self.if_rt = {role: f"v{tag}{role[0]}0" for role in ("cli", "srv", "turn")}
        self.if_leaf = {role: f"v{tag}{role[0]}1" for role in ("cli", "srv", "turn")}
        self.made: list[str] = []

    def ip(self, ns: str, *args: str) -> str:
        return run("ip", "-n", self.ns[ns], *args)

    def exec_argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns[ns], *argv]

    def nft(self, script: str) -> None:
        run("ip", "netns", "exec", self.ns["rt"], "nft", "-f", "-", input=script)

    def build(self) -> None:
        for name in self.ns.values():
            run("ip", "netns", "add", name)
            self.made.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        nets = {
            "cli": ("192.168.7.1/24", f"{CLI_IP}/24", "192.168.7.1"),
            "srv": ("10.7.0.1/24", f"{SRV_IP}/24", "10.7.0.1"),
            "turn": (f"{RT_WAN_IP}/24", f"{TURN_IP}/24", RT_WAN_IP),
        }
        for role, (rt_addr, leaf_addr, gw) in nets.items():
            a, b = self.if_rt[role], self.if_leaf[role]
            self.ip(
                "rt", "link", "add", a, "type", "veth", "peer", "name", b, "netns", self.ns[role]
            )
            self.ip("rt", "addr", "add", rt_addr, "dev", a)
            self.ip("rt", "link", "set", a, "up")
            self.ip(role, "addr", "add", leaf_addr, "dev", b)
            self.ip(role, "link", "set", b, "up")
            self.ip(role, "route", "add", "default", "via", gw)
        run("ip", "netns", "exec", self.ns["rt"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        cli_if = self.if_rt["cli"]
        self.nft(
            f"""
table ip vrnat {{
  chain nat_pre {{
    type nat hook prerouting priority dstnat;
    ip daddr {SRV_PUBLIC_IP} dnat to {SRV_IP}
  }}
  chain nat_post {{
    type nat hook postrouting priority srcnat;
    ip saddr {SRV_IP} snat to {SRV_PUBLIC_IP}
    ip saddr 192.168.7.0/24 oifname != "{cli_if}" masquerade
  }}
  chain forward_filter {{
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    ip daddr {SRV_IP} ct status dnat accept
    ip daddr 10.7.0.0/24 drop
    ip daddr 192.168.7.0/24 drop
  }}
}}
"""
        )

    def block_udp_from_cli(self, blocked: bool) -> None:
        """A network that lets no UDP out (nor its replies in): only TCP works."""
        if blocked:
            self.nft(
                f"""
table ip vrblock {{
  chain forward_filter {{
    type filter hook forward priority filter - 10; policy accept;
    iifname "{self.if_rt["cli"]}" meta l4proto udp drop
    oifname "{self.if_rt["cli"]}" meta l4proto udp drop
  }}
}}
"""
            )
        else:
            self.nft("delete table ip vrblock\n")

    def close(self) -> None:
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self.made.clear()
