"""Cache contract: get/set/delete with TTL, atomic incr."""

from __future__ import annotations

import asyncio

import pytest

TTL = 60.0


@pytest.fixture
async def cache(open_port):
    return await open_port("cache")


async def test_absent_key_is_none(cache):
    assert await cache.get("nope") is None


async def test_set_then_get(cache):
    await cache.set("k", "v", TTL)

    assert await cache.get("k") == "v"


async def test_set_overwrites(cache):
    await cache.set("k", "v1", TTL)
    await cache.set("k", "v2", TTL)

    assert await cache.get("k") == "v2"


async def test_keys_are_independent(cache):
    await cache.set("a", "1", TTL)
    await cache.set("b", "2", TTL)

    await cache.delete("a")

    assert await cache.get("a") is None
    assert await cache.get("b") == "2"


async def test_delete_of_an_absent_key_is_a_no_op(cache):
    await cache.delete("nope")

    assert await cache.get("nope") is None


async def test_value_expires_after_its_ttl(cache):
    await cache.set("short", "v", 0.2)
    await cache.set("long", "v", TTL)

    assert await cache.get("short") == "v"
    await asyncio.sleep(0.4)

    assert await cache.get("short") is None
    assert await cache.get("long") == "v"


async def test_set_after_expiry_stores_again(cache):
    await cache.set("k", "old", 0.1)
    await asyncio.sleep(0.2)

    await cache.set("k", "new", TTL)

    assert await cache.get("k") == "new"


async def test_incr_starts_at_1_and_counts_up(cache):
    assert [await cache.incr("n", TTL) for _ in range(3)] == [1, 2, 3]
    assert await cache.incr("other", TTL) == 1


async def test_incr_value_is_readable(cache):
    await cache.incr("n", TTL)
    await cache.incr("n", TTL)

    assert await cache.get("n") == "2"


async def test_incr_key_expires_and_restarts_at_1(cache):
    assert await cache.incr("n", 0.2) == 1
    assert await cache.incr("n", 0.2) == 2
    await asyncio.sleep(0.4)

    assert await cache.get("n") is None
    assert await cache.incr("n", 0.2) == 1


async def test_incr_after_delete_restarts_at_1(cache):
    await cache.incr("n", TTL)
    await cache.delete("n")

    assert await cache.incr("n", TTL) == 1


async def test_concurrent_incr_is_atomic(cache):
    results = await asyncio.gather(*(cache.incr("n", TTL) for _ in range(100)))

    assert sorted(results) == list(range(1, 101))
    assert await cache.get("n") == "100"
