"""Friendships, friend requests and blocks between users."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class RequestOutcome(enum.Enum):
    """What ``request_friend`` did."""

    REQUESTED = "requested"  # a new pending request from the sender
    ALREADY_PENDING = "already_pending"  # the sender had asked before; nothing changed
    ALREADY_FRIENDS = "already_friends"  # nothing changed
    ACCEPTED = "accepted"  # the other side had asked first: now friends
    BLOCKED = "blocked"  # one of the two blocks the other; nothing changed


class AcceptOutcome(enum.Enum):
    """What ``accept_friend`` did."""

    ACCEPTED = "accepted"
    ALREADY_FRIENDS = "already_friends"  # nothing changed (a retried accept)
    NO_REQUEST = "no_request"  # nothing pending from that user; nothing changed


@dataclass(frozen=True, slots=True)
class Relations:
    """One user's side of every relationship, each list sorted by user id."""

    friends: list[str]
    pending_in: list[str]
    pending_out: list[str]
    blocked: list[str]


class RelationshipStore(Protocol):
    """Durable relationships. Friendship is symmetric; requests and blocks are directed.

    Every write on a pair of users is atomic and serialized with the other writes on that
    pair, so a request racing a block never leaves a pending request behind the block.
    """

    async def request_friend(self, sender: str, recipient: str, message: str) -> RequestOutcome:
        """Record a request from ``sender`` to ``recipient``, or accept theirs if they asked
        first; refused (``BLOCKED``) while either blocks the other. Idempotent."""

    async def accept_friend(self, user: str, requester: str) -> AcceptOutcome:
        """Turn the pending request from ``requester`` to ``user`` into a friendship."""

    async def remove_friend(self, user: str, other: str) -> None:
        """End the friendship and drop pending requests either way. Idempotent."""

    async def block(self, user: str, other: str) -> None:
        """``user`` blocks ``other``: also ends their friendship and pending requests either
        way (an unblock does not bring them back). Idempotent."""

    async def unblock(self, user: str, other: str) -> None:
        """Lift the block of ``other`` by ``user`` (a block the other way stays). Idempotent."""

    async def relations_of(self, user: str) -> Relations:
        """The user's friends, requests in and out, and the users they block."""

    async def are_friends(self, user_a: str, user_b: str) -> bool:
        """True when the two are friends."""

    async def is_blocked_either(self, user_a: str, user_b: str) -> bool:
        """True when either user blocks the other."""
