"""The multi-login policy: which seat class a platform logs in to, and how many it has (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imfaas.shared.ports.device_registry import Seat


@dataclass(frozen=True, slots=True)
class SeatPolicy:
    """Seats per class (0: any number) and the class of each platform (else its own)."""

    limits: Mapping[str, int]
    classes: Mapping[str, str]

    def seat_of(self, platform: str) -> Seat | None:
        """The seats a login from ``platform`` competes for; None when there is no limit."""
        name = self.classes.get(platform, platform)
        limit = self.limits.get(name, 0)
        return Seat(name, limit) if limit > 0 else None
