"""The presence function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """Request limits."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PresenceConfig:
        """Pick this function's values."""
        return cls()
