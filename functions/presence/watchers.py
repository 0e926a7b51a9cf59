"""Who watches whose presence: one cache slot per subscription, numbered by a counter.

``incr`` hands out slot numbers, so concurrent subscribes never overwrite each other; a slot
names the subscribing socket (user, node, conn), and a slot whose socket is no longer in the
route table is skipped, which is how a subscription ends with its socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from imfaas.shared.ports.cache import Cache


@dataclass(frozen=True, slots=True)
class Watcher:
    """One subscribing socket."""

    user: str
    node: str
    conn: str


def _count_key(watched: str) -> str:
    return f"presence:watchers:{watched}"


async def add_watcher(cache: Cache, watched: str, watcher: Watcher, ttl_s: float) -> None:
    """Record that ``watcher`` follows ``watched`` for ``ttl_s`` at most."""
    slot = await cache.incr(_count_key(watched), ttl_s)
    value = json.dumps({"user": watcher.user, "node": watcher.node, "conn": watcher.conn})
    await cache.set(f"{_count_key(watched)}:{slot}", value, ttl_s)


async def watchers_of(cache: Cache, watched: str) -> list[Watcher]:
    """Every recorded subscription to ``watched`` (live or not), each socket once."""
    count = await cache.get(_count_key(watched))
    found: dict[tuple[str, str], Watcher] = {}
    for slot in range(1, int(count or 0) + 1):
        raw = await cache.get(f"{_count_key(watched)}:{slot}")
        if raw is None:
            continue
        item = json.loads(raw)
        found[(item["node"], item["conn"])] = Watcher(item["user"], item["node"], item["conn"])
    return list(found.values())
