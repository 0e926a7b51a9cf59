"""Devices, refresh-token families, device seats and push tokens."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A user's device (one installation of a client)."""

    user_id: str
    device_id: str
    platform: str
    last_login_ms: int


@dataclass(frozen=True, slots=True)
class RefreshFamily:
    """A chain of rotating refresh tokens from one login; ``session_id`` names it in tokens."""

    session_id: str
    user_id: str
    device_id: str
    platform: str
    token_hash: str
    generation: int
    expires_ms: int
    revoked: bool


@dataclass(frozen=True, slots=True)
class Seat:
    """A user's seats of one platform class (``mobile``, ``desktop``...) and how many there are."""

    name: str
    limit: int


@dataclass(frozen=True, slots=True)
class Displaced:
    """A device that lost its seat to a new login, and the sessions that were revoked with it."""

    device_id: str
    sessions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushToken:
    """Where a device gets push notifications: ``provider`` is fcm, apns or hms; ``platform``
    is the device's as it last logged in (read back, never written through this record)."""

    user_id: str
    device_id: str
    provider: str
    token: str
    updated_ms: int
    platform: str = ""


class RotateOutcome(Enum):
    """What happened when a refresh token was presented."""

    ROTATED = "rotated"
    REUSED = "reused"  # an older token of the family: the family is now revoked
    INVALID = "invalid"  # unknown, expired or revoked family


class DeviceRegistry(Protocol):
    """Durable devices and refresh families; rotation is an atomic compare-and-set."""

    async def upsert_device(self, device: DeviceRecord) -> None:
        """Create or update a device (platform, last login)."""

    async def create_family(self, family: RefreshFamily) -> None:
        """Record a new refresh family (a login)."""

    async def rotate(
        self, session_id: str, presented_hash: str, new_hash: str, now_ms: int
    ) -> tuple[RotateOutcome, RefreshFamily | None]:
        """Swap the current token hash if ``presented_hash`` is current; on reuse revoke the family.

        Atomic: two concurrent rotations of the same token never both succeed.
        """

    async def revoke_device(self, user_id: str, device_id: str) -> list[str]:
        """Revoke every unrevoked family of the device (expired ones too), free its seats and
        drop its push token; return the revoked families' ids."""

    async def create_seated_family(
        self, family: RefreshFamily, seat: Seat, now_ms: int
    ) -> Displaced | None:
        """Record ``family`` and seat its device in one of the user's ``seat.limit`` seats.

        One transaction: a device already seated keeps its seat; else it takes a free one;
        else the seat taken longest ago changes hands and its device is revoked as by
        ``revoke_device`` (returned). Concurrent logins leave each seat exactly one holder.
        """

    async def set_push_token(self, token: PushToken, session_id: str) -> bool:
        """Store the device's push token (replacing its previous one and taking the token away
        from any other device) if ``session_id`` is a live family of that device; else False.

        Atomic with ``revoke_device``: a revoked device never keeps a token.
        """

    async def push_tokens(self, user_id: str) -> list[PushToken]:
        """The push tokens of every device of the user, by device id, with each device's
        platform."""

    async def drop_push_token(self, user_id: str, device_id: str, token: str) -> bool:
        """Remove the device's push token if it is still ``token`` (a provider said it is
        invalid); False when it had another one or none (a newer registration is kept)."""

    async def is_session_live(self, session_id: str, now_ms: int) -> bool:
        """True if the family exists, is not revoked and has not expired."""
