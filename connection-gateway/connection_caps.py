"""How many sockets this node holds, in all and per client IP; pure counting, no sockets.

A socket beyond a cap is still upgraded, then closed at once with 1013 (try again later),
so browsers see a close code; sockets already open are never touched.
"""

from __future__ import annotations


class ConnectionCaps:
    """Counts open sockets per node and per IP against their caps (0 means no cap)."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self._max_total = max_total
        self._max_per_ip = max_per_ip
        self._per_ip: dict[str, int] = {}
        self.total = 0

    def try_open(self, ip: str) -> str | None:
        """Count a new socket from ``ip``; or, when a cap is reached, count nothing and say
        which. Every successful call must be matched by one ``release``."""
        if self._max_total and self.total >= self._max_total:
            return "node connection cap reached"
        held = self._per_ip.get(ip, 0)
        if self._max_per_ip and held >= self._max_per_ip:
            return "per-IP connection cap reached"
        self._per_ip[ip] = held + 1
        self.total += 1
        return None

    def release(self, ip: str) -> None:
        """A socket counted by ``try_open`` is gone; an IP with none left is forgotten."""
        held = self._per_ip.get(ip, 0)
        if held <= 0:
            return
        self.total -= 1
        if held == 1:
            del self._per_ip[ip]
        else:
            self._per_ip[ip] = held - 1

    def held_by(self, ip: str) -> int:
        """Sockets currently counted for ``ip``."""
        return self._per_ip.get(ip, 0)

    @property
    def ips(self) -> int:
        """How many IPs hold at least one socket (the size of the table)."""
        return len(self._per_ip)
