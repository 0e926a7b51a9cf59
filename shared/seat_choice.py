"""Which of a user's seats a logging-in device takes (pure: holders in, seat out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FREE = ""  # the device id of a seat nobody holds


@dataclass(frozen=True, slots=True)
class SeatHolder:
    """One seat (``slot``) of a platform class, who holds it and since when."""

    slot: int
    device_id: str
    assigned_ms: int


def choose_seat(holders: Sequence[SeatHolder], device_id: str) -> SeatHolder:
    """The seat ``device_id`` takes, as it is before: its own, else the first free one, else
    the one taken longest ago (lowest slot on ties). ``holders`` must not be empty."""
    for holder in holders:
        if holder.device_id == device_id:
            return holder
    free = [holder for holder in holders if holder.device_id == FREE]
    if free:
        return min(free, key=lambda holder: holder.slot)
    return min(holders, key=lambda holder: (holder.assigned_ms, holder.slot))


def displaced_device(previous: SeatHolder, device_id: str) -> str | None:
    """The device that loses the seat when ``device_id`` takes ``previous``, if any."""
    if previous.device_id in (FREE, device_id):
        return None
    return previous.device_id
