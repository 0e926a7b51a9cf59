"""Fixtures for the history function: messages are written through the store function."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.functions.history import handler as history_handler
from imfaas.functions.history.handler import HistoryFunction
from imfaas.functions.history.handler import create_function as create_history
from imfaas.functions.store import handler as store_handler
from imfaas.functions.store.handler import StoreFunction
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.settings import Settings
from imfaas.shared.testing import (
    RecordingEventBus,
    identity,
    port_sets,
    reply_frame,
)


class SteppingClock:
    """Stands in for the store's ``time`` module: each message is 1 s after the previous."""

    def __init__(self) -> None:
        self._seconds = itertools.count(1_700_000_000)

    def time(self) -> float:
        return float(next(self._seconds))


class ManualClock:
    """Stands in for the history function's ``time`` module: it reads ``now`` (seconds)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


@dataclass
class HistoryEnv:
    """A history function, and a store function writing into the same ports."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: HistoryFunction
    store: StoreFunction
    clock: ManualClock
    _cmids: itertools.count = field(default_factory=itertools.count)

    async def post(
        self,
        conversation: str,
        sender: str,
        text: str = "",
        device: str = "d1",
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """Store one message through the store function; return its wire form."""
        n = next(self._cmids)
        data = {
            "conversation": conversation,
            "sender": sender,
            "sender_device": device,
            "client_msg_id": client_msg_id or f"cm-{n}",
            "content": {"kind": "text", "text": text or f"m{n}"},
            "submitted_ts": 0,
            "reply_to": {"node": "gw-test", "conn": "c0", "request_id": f"r{n}"},
        }
        await self.store.handle(new_event(catalog.MESSAGE_SUBMITTED, "/test", data))
        return self.bus.of_type(catalog.MESSAGE_STORED)[-1].get_data()["message"]

    async def ask(self, user: str, frame: dict[str, Any], request_id: str = "q1", conn: str = "c1"):
        """One frame from ``user``'s socket ``conn`` to the history function; the reply."""
        who = identity(user, conn_id=conn)
        reply = await reply_frame(self.fn.handle, {"id": request_id, **frame}, who)
        assert reply is not None
        return reply


MakeHistory = Callable[..., Awaitable[HistoryEnv]]


@pytest.fixture
async def make_history(tmp_path, monkeypatch) -> AsyncIterator[MakeHistory]:
    """Factory: ``await make_history(**settings_overrides)`` → a started ``HistoryEnv``."""
    monkeypatch.setattr(store_handler, "time", SteppingClock())
    clock = ManualClock()
    monkeypatch.setattr(history_handler, "time", clock)
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> HistoryEnv:
            env = await new_ports(**overrides)
            fn = create_history(env.settings, env.ports)
            store = store_handler.create_function(env.settings, env.ports)
            await fn.start()
            await store.start()
            return HistoryEnv(env.settings, env.ports, env.bus, fn, store, clock)

        yield make


@pytest.fixture
async def env(make_history: MakeHistory) -> HistoryEnv:
    """History and store with default test settings."""
    return await make_history()
