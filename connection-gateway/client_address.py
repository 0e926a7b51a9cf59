"""Which IP a request comes from: the peer, or what a trusted proxy says in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (a bare address is a /32 or /128); raises ``ValueError`` on a bad one."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket is the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """The peer address; when the peer is a trusted proxy, the first untrusted hop of
    X-Forwarded-For read from the right (the hops left of it are the client's own claims)."""
    nearest = _address(peer or "")
    if nearest is None:
        return peer or "unknown"
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while hops and any(nearest in network for network in trusted):
        hop = _address(hops.pop())
        if hop is None:
            # A hop our own proxy wrote and we cannot read: count it as that proxy's.
            break
        nearest = hop
    return str(nearest)
