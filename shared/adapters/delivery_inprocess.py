"""Delivery to gateway nodes living in this process (embedded default)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from imfaas.shared.errors import BackendUnavailable

NodeReceiver = Callable[[list[dict[str, Any]]], Awaitable[int]]


class InProcessDelivery:
    """Hands each batch to the node's ``deliver_batch`` directly."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeReceiver] = {}

    def attach(self, node_id: str, receiver: NodeReceiver) -> None:
        """Register a node of this process."""
        self._nodes[node_id] = receiver

    def detach(self, node_id: str) -> None:
        """Forget a node (it is shutting down)."""
        self._nodes.pop(node_id, None)

    async def deliver(self, node_id: str, items: list[dict[str, Any]]) -> None:
        """Call the node, or raise ``BackendUnavailable`` if it is not here."""
        receiver = self._nodes.get(node_id)
        if receiver is None:
            raise BackendUnavailable(f"gateway node {node_id!r} is not in this process")
        await receiver(items)
