"""NodeRegistry in process memory (embedded default: one node)."""

from __future__ import annotations

import time

from imfaas.shared.ports.node_registry import GatewayNode


class MemoryNodeRegistry:
    """Nodes with expiry times."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[GatewayNode, float]] = {}

    async def announce(self, node: GatewayNode, ttl_s: int) -> None:
        """Register or refresh a node."""
        self._nodes[node.node_id] = (node, time.monotonic() + ttl_s)

    async def withdraw(self, node_id: str) -> None:
        """Remove a node."""
        self._nodes.pop(node_id, None)

    async def live_nodes(self) -> list[GatewayNode]:
        """Nodes not expired, by id."""
        now = time.monotonic()
        return sorted(
            (node for node, expires in self._nodes.values() if expires > now),
            key=lambda n: n.node_id,
        )
