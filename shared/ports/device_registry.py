"""Devices and refresh-token families."""

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
        """Revoke every unrevoked family of the device (expired ones too); return their ids."""

    async def is_session_live(self, session_id: str, now_ms: int) -> bool:
        """True if the family exists, is not revoked and has not expired."""
