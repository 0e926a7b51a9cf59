"""Who may send whom a direct message: blocks and the direct-message policy."""

from __future__ import annotations

from imfaas.shared.errors import Forbidden
from imfaas.shared.ports.relationship_store import RelationshipStore


async def require_direct_allowed(
    relations: RelationshipStore, sender: str, recipient: str, policy: str
) -> None:
    """Raise ``Forbidden`` while either user blocks the other, or when ``policy`` is
    ``"friends"`` and they are not friends."""
    # One message for every refusal: the sender does not learn whether it was blocked.
    refused = Forbidden("you cannot send direct messages to this user")
    if await relations.is_blocked_either(sender, recipient):
        raise refused
    if policy == "friends" and not await relations.are_friends(sender, recipient):
        raise refused
