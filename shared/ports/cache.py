"""Small hot values with a TTL: revocations, counters, rate limits."""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    """Best-effort state; everything here can be rebuilt or may be lost."""

    async def get(self, key: str) -> str | None:
        """The value, or None when absent or expired."""

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        """Store a value that expires after ``ttl_s`` seconds."""

    async def delete(self, key: str) -> None:
        """Remove a key; a no-op when absent."""

    async def incr(self, key: str, ttl_s: float) -> int:
        """Atomically add one; a new key starts at 1 and expires after ``ttl_s``."""
