"""Frames from functions to gateway nodes."""

from __future__ import annotations

from typing import Any, Protocol


class Delivery(Protocol):
    """Sends one batch of frames to one gateway node."""

    async def deliver(self, node_id: str, items: list[dict[str, Any]]) -> None:
        """Hand ``items`` (``{"conn", "frame"}`` or ``{"conn", "close", "frame"?}``) to the node.

        Raises ``BackendUnavailable`` when the node cannot be reached; sockets gone from
        the node are skipped silently (their clients will ``sync``).
        """
