"""EventBus contract: order per key, at least once with retry before later events, stop, drain.

The embedded bus is ``MemoryEventBus``; it is built with a tiny backoff so retries are fast.
``drain()`` and ``dead_letters`` belong to the embedded bus (a real bus has a dead-letter topic).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any

import pytest

from imfaas.events.codec import new_event

TYPE = "io.imfaas.test.thing.v1"
OTHER_TYPE = "io.imfaas.test.other.v1"
MAX_ATTEMPTS = 3


def event(key: str, n: int, event_type: str = TYPE):
    return new_event(event_type, "/test", {"key": key, "n": n})


def data(ev) -> tuple[str, int]:
    payload: dict[str, Any] = ev.get_data()
    return payload["key"], payload["n"]


@pytest.fixture
async def bus(open_port):
    # Stopped by the factory at teardown.
    return await open_port("bus", partitions=4, max_attempts=MAX_ATTEMPTS, backoff_s=0.001)


async def test_events_reach_the_subscriber(bus):
    seen = []

    async def handler(ev):
        seen.append(data(ev))

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    await bus.publish(event("k", 1), "k")
    await bus.drain()

    assert seen == [("k", 1)]


async def test_order_per_key_is_kept_with_slow_random_handlers(bus):
    rng, sleeps = random.Random(7), random.Random(11)
    seen: dict[str, list[int]] = defaultdict(list)

    async def handler(ev):
        await asyncio.sleep(sleeps.random() * 0.003)
        key, n = data(ev)
        seen[key].append(n)

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    published: dict[str, list[int]] = defaultdict(list)
    for n in range(200):
        key = f"key-{rng.randrange(10)}"
        published[key].append(n)
        await bus.publish(event(key, n), key)
    await bus.drain()

    assert len(published) == 10
    assert sum(len(v) for v in seen.values()) == 200
    assert dict(seen) == dict(published)


async def test_a_failing_event_is_retried_before_later_events_of_its_key(bus):
    seen: list[tuple[str, int]] = []
    failures = {"left": 2}

    async def handler(ev):
        seen.append(data(ev))
        if data(ev) == ("k", 2) and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("transient")

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    for n in range(1, 5):
        await bus.publish(event("k", n), "k")
    await bus.drain()

    assert seen == [("k", 1), ("k", 2), ("k", 2), ("k", 2), ("k", 3), ("k", 4)]
    assert bus.dead_letters == []


async def test_an_event_that_always_fails_is_dead_lettered_after_max_attempts(bus):
    attempts: list[tuple[str, int]] = []
    poison = event("k", 1)

    async def handler(ev):
        attempts.append(data(ev))
        if data(ev) == ("k", 1):
            raise RuntimeError("poison")

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    await bus.publish(poison, "k")
    await bus.publish(event("k", 2), "k")
    await bus.drain()

    assert attempts == [("k", 1)] * MAX_ATTEMPTS + [("k", 2)]
    assert bus.dead_letters == [("g1", poison)]


async def test_every_group_gets_every_event_of_its_type_only(bus):
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)

    def recorder(group):
        async def handler(ev):
            seen[group].append(data(ev))

        return handler

    bus.subscribe(TYPE, "g1", recorder("g1"))
    bus.subscribe(TYPE, "g2", recorder("g2"))
    bus.subscribe(OTHER_TYPE, "g3", recorder("g3"))
    await bus.start()
    await bus.publish(event("k", 1), "k")
    await bus.publish(event("k", 2, OTHER_TYPE), "k")
    await bus.drain()

    assert seen == {"g1": [("k", 1)], "g2": [("k", 1)], "g3": [("k", 2)]}


async def test_events_published_before_start_are_delivered_after_it(bus):
    seen = []

    async def handler(ev):
        seen.append(data(ev))

    bus.subscribe(TYPE, "g1", handler)
    await bus.publish(event("k", 1), "k")
    await bus.start()
    await bus.drain()

    assert seen == [("k", 1)]


async def test_subscribing_after_start_delivers(bus):
    seen = []

    async def handler(ev):
        seen.append(data(ev))

    await bus.start()
    bus.subscribe(TYPE, "late", handler)
    await bus.publish(event("k", 1), "k")
    await bus.drain()

    assert seen == [("k", 1)]


async def test_drain_waits_for_slow_handlers(bus):
    seen = []

    async def handler(ev):
        await asyncio.sleep(0.01)
        seen.append(data(ev))

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    for n in range(5):
        await bus.publish(event(f"k{n % 2}", n), f"k{n % 2}")
    assert len(seen) < 5

    await bus.drain()

    assert sorted(n for _, n in seen) == [0, 1, 2, 3, 4]


async def test_drain_waits_for_events_published_by_handlers(bus):
    # A pipeline as in embedded mode (store publishes what fanout consumes): the downstream
    # group subscribed first, so its queues are looked at before the upstream handler runs.
    downstream = []

    async def fanout(ev):
        await asyncio.sleep(0.01)  # real handlers do I/O
        downstream.append(data(ev))

    async def store(ev):
        key, n = data(ev)
        await bus.publish(event(key, n, OTHER_TYPE), key)

    bus.subscribe(OTHER_TYPE, "fanout", fanout)
    bus.subscribe(TYPE, "store", store)
    await bus.start()
    await bus.publish(event("k", 1), "k")

    await bus.drain()

    assert downstream == [("k", 1)]


async def test_stop_lets_the_event_being_handled_finish(bus):
    started, finished = asyncio.Event(), []

    async def handler(ev):
        started.set()
        await asyncio.sleep(0.05)
        finished.append(data(ev))

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    await bus.publish(event("k", 1), "k")
    await asyncio.wait_for(started.wait(), 2)

    await bus.stop()

    assert finished == [("k", 1)]


async def test_an_event_interrupted_by_stop_is_delivered_after_a_restart(bus):
    # At least once: stopping mid-event must not lose the event for good.
    started, finished = asyncio.Event(), []

    async def handler(ev):
        started.set()
        await asyncio.sleep(0.05)
        finished.append(data(ev))

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    await bus.publish(event("k", 1), "k")
    await asyncio.wait_for(started.wait(), 2)
    await bus.stop()

    await bus.start()
    await bus.drain()

    assert finished == [("k", 1)]


async def test_an_event_cut_off_after_the_stop_grace_is_handled_first_on_restart(open_port):
    bus = await open_port("bus", partitions=1, max_attempts=3, backoff_s=0.001, stop_grace_s=0.05)
    started, calls = asyncio.Event(), []

    async def handler(ev):
        calls.append(data(ev))
        if len(calls) == 1:
            started.set()
            await asyncio.sleep(30)  # stuck far beyond the grace period

    bus.subscribe(TYPE, "g1", handler)
    await bus.start()
    await bus.publish(event("k", 1), "k")
    await bus.publish(event("k", 2), "k")
    await asyncio.wait_for(started.wait(), 2)

    await asyncio.wait_for(bus.stop(), 2)
    assert calls == [("k", 1)]

    await bus.start()
    await asyncio.wait_for(bus.drain(), 2)

    assert calls == [("k", 1), ("k", 1), ("k", 2)]
