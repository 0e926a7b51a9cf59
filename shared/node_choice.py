"""Which gateway node a user should connect to (pure: nodes in, node out)."""

from __future__ import annotations

import hashlib

from imfaas.shared.ports.node_registry import GatewayNode


def _weight(user_id: str, node_id: str) -> int:
    digest = hashlib.blake2b(f"{node_id}\0{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def choose_node(nodes: list[GatewayNode], user_id: str) -> GatewayNode | None:
    """Rendezvous hashing: each user sticks to one node, and when a node leaves only its
    users move (spread over the rest); None when no node is live."""
    if not nodes:
        return None
    return max(nodes, key=lambda node: _weight(user_id, node.node_id))
