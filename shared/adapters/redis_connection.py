"""One redis.asyncio client per process, and the mapping of its failures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from imfaas.shared.errors import BackendUnavailable

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def open_redis(url: str, timeout_s: float) -> redis.Redis:
    """A pooled client; commands time out instead of hanging when Redis is gone."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        # After a Redis restart every pooled connection is stale: its first command fails
        # with a connection error. Retry those on a fresh connection instead of failing one
        # request per pooled connection (timeouts are not retried: the command may have run).
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError],
    )


async def ping_redis(client: redis.Redis) -> bool:
    """True when Redis answers PING."""
    try:
        return bool(await client.ping())
    except UNAVAILABLE:
        return False


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Turn connection trouble into ``BackendUnavailable``."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise BackendUnavailable(f"redis: {exc!r}") from exc
