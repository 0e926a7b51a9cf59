"""Sockets that died with their gateway node: their routes are removed and their users'
``offline`` announced, as if each socket had closed.

A node that crashes sends no removal. Its routes would only expire, and nobody would tell
presence subscribers. Two cases are covered: the node comes back under its id (its routes
from before are all stale: it clears them at start), or it never comes back (the live node
with the lowest id clears them once the node has been missing from the registry for
``MISSING_ROUNDS`` checks in a row, so a registry blip or a Redis restart, after which every
node announces itself again within a round, is not mistaken for a death).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.node_registry import NodeRegistry
from imfaas.shared.ports.route_table import Route, RouteTable

log = logging.getLogger(__name__)

MISSING_ROUNDS = 2


def nodes_to_sweep(
    me: str, live: set[str], missing: dict[str, int], known: set[str]
) -> tuple[list[str], dict[str, int]]:
    """One round of the watch (pure): the nodes this node must sweep now, and the new
    missing counts. ``known`` holds every node seen live before."""
    counts = {node: missing.get(node, 0) + 1 for node in known - live - {me}}
    due = [node for node, count in counts.items() if count == MISSING_ROUNDS]
    # One sweeper per death: the live node with the lowest id (every node computes the same).
    if not due or me != min(live | {me}):
        return [], counts
    return sorted(due), counts


class StaleRouteSweeper:
    """Removes the routes of dead sockets and announces each as gone (``announce_down``)."""

    def __init__(
        self,
        node_id: str,
        routes: RouteTable,
        nodes: NodeRegistry | None,
        announce_down: Callable[[Route], None],
    ) -> None:
        self._me = node_id
        self._routes = routes
        self._nodes = nodes
        self._announce_down = announce_down
        self._known: set[str] = set()
        self._missing: dict[str, int] = {}

    async def clear_own(self) -> int:
        """At start, before any socket: every route under this node's id is from before."""
        return await self._sweep(self._me)

    async def watch_once(self) -> list[str]:
        """One round: sweep the nodes found dead; returns them."""
        if self._nodes is None:
            return []
        try:
            live = {node.node_id for node in await self._nodes.live_nodes()}
        except BackendUnavailable as exc:
            log.warning("node registry unavailable: %s", exc)
            return []
        due, self._missing = nodes_to_sweep(self._me, live, self._missing, self._known)
        self._known |= live
        for node in due:
            swept = await self._sweep(node)
            log.info("node %s is gone: %d of its sockets announced offline", node, swept)
            self._known.discard(node)
            self._missing.pop(node, None)
        return due

    async def watch(self, period_s: float) -> None:
        """Run ``watch_once`` every ``period_s`` until cancelled."""
        while True:
            await asyncio.sleep(period_s)
            await self.watch_once()

    async def _sweep(self, node_id: str) -> int:
        try:
            stale = await self._routes.routes_on_node(node_id)
            for route in stale:
                await self._routes.remove(route)
                self._announce_down(route)
        except BackendUnavailable as exc:
            log.warning("stale routes of %s not cleared: %s", node_id, exc)
            return 0
        return len(stale)
