"""Cache on Redis."""

from __future__ import annotations

import redis.asyncio as redis

from imfaas.shared.adapters.redis_connection import redis_errors

# INCR, and set the expiry only when this call created the key (atomic in one round trip).
_INCR_WITH_TTL = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value
"""


class RedisCache:
    """Plain keys under a prefix, expiring by Redis TTL."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._incr = client.register_script(_INCR_WITH_TTL)

    async def get(self, key: str) -> str | None:
        """The value, or None when absent or expired."""
        with redis_errors():
            return await self._redis.get(self._prefix + key)

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        """Store a value that expires after ``ttl_s`` seconds."""
        with redis_errors():
            await self._redis.set(self._prefix + key, value, px=max(1, int(ttl_s * 1000)))

    async def delete(self, key: str) -> None:
        """Remove a key."""
        with redis_errors():
            await self._redis.delete(self._prefix + key)

    async def incr(self, key: str, ttl_s: float) -> int:
        """Add one; a new key starts at 1 and expires after ``ttl_s``."""
        with redis_errors():
            return int(
                await self._incr(keys=[self._prefix + key], args=[max(1, int(ttl_s * 1000))])
            )
