"""The live gateway nodes: where each accepts sockets and takes delivery batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class GatewayNode:
    """One gateway node as it announced itself."""

    node_id: str
    ws_url: str
    delivery_url: str


class NodeRegistry(Protocol):
    """Hot state: nodes announce themselves with a TTL and refresh it while they live."""

    async def announce(self, node: GatewayNode, ttl_s: int) -> None:
        """Register or refresh a node; it drops out ``ttl_s`` after its last announce."""

    async def withdraw(self, node_id: str) -> None:
        """Remove a node at once (graceful drain)."""

    async def live_nodes(self) -> list[GatewayNode]:
        """Every node whose announcement has not expired, sorted by node id."""
