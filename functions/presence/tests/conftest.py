"""Fixtures for the presence function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.functions.presence.handler import PresenceFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, identity, port_sets, reply_frame


@dataclass
class PresenceEnv:
    """One started presence function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: PresenceFunction

    async def ask(self, user: str, frame: dict[str, Any], conn: str = "c1") -> dict[str, Any]:
        """One frame (request id q1) from ``user`` on socket ``conn``; the reply frame."""
        reply = await reply_frame(
            self.fn.handle, {"id": "q1", **frame}, identity(user, conn_id=conn)
        )
        assert reply is not None
        return reply

    def notified(self) -> list[tuple[dict[str, Any], str]]:
        """Every users.notified published so far: (data, key)."""
        return self.bus.data_and_keys(catalog.USERS_NOTIFIED)


MakePresence = Callable[..., Awaitable[PresenceEnv]]


@pytest.fixture
async def make_presence(tmp_path) -> AsyncIterator[MakePresence]:
    """Factory: ``await make_presence(**settings_overrides)`` → a started ``PresenceEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> PresenceEnv:
            env = await new_ports(**overrides)
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return PresenceEnv(env.settings, env.ports, env.bus, fn)

        yield make


@pytest.fixture
async def env(make_presence: MakePresence) -> PresenceEnv:
    """A presence function with default test settings."""
    return await make_presence()
