"""RouteTable in process memory (embedded default)."""

from __future__ import annotations

import time

from imfaas.shared.ports.route_table import Route


class MemoryRouteTable:
    """Routes per user with expiry times; a lookup drops expired entries."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[tuple[str, str, str], tuple[Route, float]]] = {}

    async def add(self, route: Route, ttl_s: int) -> None:
        """Register a socket."""
        key = (route.device_id, route.node_id, route.conn_id)
        self._routes.setdefault(route.user_id, {})[key] = (route, time.monotonic() + ttl_s)

    async def remove(self, route: Route) -> None:
        """Forget a socket."""
        entries = self._routes.get(route.user_id)
        if entries is None:
            return
        entries.pop((route.device_id, route.node_id, route.conn_id), None)
        if not entries:
            del self._routes[route.user_id]

    async def refresh(self, routes: list[Route], ttl_s: int) -> None:
        """Extend the TTL of live sockets (re-adding ones that expired)."""
        for route in routes:
            await self.add(route, ttl_s)

    async def lookup(self, user_ids: list[str]) -> dict[str, list[Route]]:
        """Live routes per user."""
        now = time.monotonic()
        found: dict[str, list[Route]] = {}
        for user_id in user_ids:
            entries = self._routes.get(user_id)
            if not entries:
                continue
            live = [route for route, expires in entries.values() if expires > now]
            if live:
                found[user_id] = live
        return found

    async def routes_on_node(self, node_id: str) -> list[Route]:
        """The node's routes, expired ones included."""
        return [
            route
            for entries in self._routes.values()
            for route, _ in entries.values()
            if route.node_id == node_id
        ]
