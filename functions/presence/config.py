"""The presence function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """Who may subscribe, how many users at once, and how long subscriptions are kept."""

    anyone: bool
    subscribe_max: int
    subscription_ttl_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PresenceConfig:
        """Pick this function's values."""
        return cls(
            anyone=settings.presence_anyone,
            subscribe_max=settings.presence_subscribe_max,
            subscription_ttl_s=settings.presence_subscription_ttl_s,
        )
