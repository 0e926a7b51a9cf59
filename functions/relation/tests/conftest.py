"""Fixtures for the relation function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.functions.relation.handler import RelationFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, identity, port_sets, reply_frame

USERS = ("ua", "ub", "uc")


@dataclass
class RelationEnv:
    """One started relation function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: RelationFunction

    async def ask(
        self, user: str, frame: dict[str, Any], request_id: str = "q1", conn: str = "c1"
    ) -> dict[str, Any]:
        """One frame from ``user`` (on socket ``conn``); return the reply frame."""
        reply = await reply_frame(
            self.fn.handle, {"id": request_id, **frame}, identity(user, conn_id=conn)
        )
        assert reply is not None
        return reply

    def notified(self) -> list[tuple[dict[str, Any], str]]:
        """Every users.notified published so far: (data, key)."""
        return [
            (event.get_data(), key)
            for event, key in self.bus.published
            if event["type"] == catalog.USERS_NOTIFIED
        ]


MakeRelation = Callable[..., Awaitable[RelationEnv]]


@pytest.fixture
async def make_relation(tmp_path) -> AsyncIterator[MakeRelation]:
    """Factory: ``await make_relation(**settings_overrides)`` → a started ``RelationEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(users: tuple[str, ...] = USERS, **overrides: Any) -> RelationEnv:
            env = await new_ports(**overrides)
            for user_id in users:
                await env.ports.users.create_user(UserRecord(user_id, "name-" + user_id, "x", 0))
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return RelationEnv(env.settings, env.ports, env.bus, fn)

        yield make


@pytest.fixture
async def env(make_relation: MakeRelation) -> RelationEnv:
    """Users ua, ub and uc exist."""
    return await make_relation()
