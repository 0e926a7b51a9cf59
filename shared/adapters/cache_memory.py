"""Cache in process memory (embedded default)."""

from __future__ import annotations

import time


class MemoryCache:
    """A dict with expiry times; expired keys are dropped when read or on a periodic sweep."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._writes = 0

    async def get(self, key: str) -> str | None:
        """The value, or None when absent or expired."""
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._values[key]
            return None
        return item[0]

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        """Store a value that expires after ``ttl_s`` seconds."""
        self._values[key] = (value, time.monotonic() + ttl_s)
        self._sweep_now_and_then()

    async def delete(self, key: str) -> None:
        """Remove a key."""
        self._values.pop(key, None)

    async def incr(self, key: str, ttl_s: float) -> int:
        """Add one; a new (or expired) key starts at 1."""
        current = await self.get(key)
        if current is None:
            await self.set(key, "1", ttl_s)
            return 1
        value = int(current) + 1
        self._values[key] = (str(value), self._values[key][1])
        return value

    def _sweep_now_and_then(self) -> None:
        # Bound memory without a timer task: every 1024 writes drop what has expired.
        self._writes += 1
        if self._writes % 1024:
            return
        now = time.monotonic()
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
