"""Where each online device is connected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Route:
    """One connected socket: which gateway node holds it, and its id there."""

    user_id: str
    device_id: str
    node_id: str
    conn_id: str
    platform: str


class RouteTable(Protocol):
    """Hot state, rebuildable: gateways re-register their sockets, entries expire by TTL."""

    async def add(self, route: Route, ttl_s: int) -> None:
        """Register a socket (another socket of the same device keeps its own entry)."""

    async def remove(self, route: Route) -> None:
        """Forget a socket; a no-op when it is already gone."""

    async def refresh(self, routes: list[Route], ttl_s: int) -> None:
        """Extend the TTL of live sockets (the gateway's heartbeat)."""

    async def lookup(self, user_ids: list[str]) -> dict[str, list[Route]]:
        """Live routes per user; users with none are absent."""

    async def routes_on_node(self, node_id: str) -> list[Route]:
        """Every route a node registered and has not removed, expired ones included: after a
        node died (or restarted under its id) these are the sockets it no longer holds."""
