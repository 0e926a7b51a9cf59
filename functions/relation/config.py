"""The relation function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class RelationConfig:
    """Request limits."""

    friend_message_max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RelationConfig:
        """Pick this function's values."""
        return cls(friend_message_max_bytes=settings.friend_message_max_bytes)
