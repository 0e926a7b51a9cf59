"""The store function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How long a (sender, client_msg_id) pair is remembered."""

    dedup_ttl_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        """Pick this function's values."""
        return cls(dedup_ttl_ms=settings.dedup_ttl_days * 24 * 3600 * 1000)
