"""Fixtures for the group function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.functions.group.config import GroupConfig
from imfaas.functions.group.handler import GroupFunction
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import RecordingEventBus, identity, port_sets, reply_frame

USERS = ("ua", "ub", "uc", "ud", "ue")
NOW = 1_700_000_000_000


@dataclass
class GroupEnv:
    """One started group function, what it runs on, and its clock (ms)."""

    ports: Ports
    bus: RecordingEventBus
    fn: GroupFunction
    now: list[int]

    async def ask(self, user: str, frame: dict[str, Any], conn: str = "c1") -> dict[str, Any]:
        """One frame from ``user`` (on socket ``conn``); return the reply frame."""
        reply = await reply_frame(
            self.fn.handle, {"id": "q1", **frame}, identity(user, conn_id=conn)
        )
        assert reply is not None
        return reply

    async def create(self, owner: str = "ua", members: tuple[str, ...] = ("ub", "uc")) -> str:
        """A group of ``owner`` and ``members``; its id (events published so far dropped)."""
        reply = await self.ask(
            owner, {"type": "group.create", "name": "team", "members": list(members)}
        )
        assert reply["type"] == "group.create.ok", reply
        self.bus.published.clear()
        return reply["group_id"]

    def events(self) -> list[tuple[dict[str, Any], str]]:
        """Every users.notified published so far: (data, key)."""
        return [
            (event.get_data(), key)
            for event, key in self.bus.published
            if event["type"] == catalog.USERS_NOTIFIED
        ]

    async def snapshot(self, group_id: str) -> tuple[Any, ...]:
        """Everything stored about the group (to check a refused request changed nothing)."""
        groups = self.ports.groups
        return (await groups.group(group_id), await groups.members(group_id, "", 100_000))


MakeGroup = Callable[..., Awaitable[GroupEnv]]


@pytest.fixture
async def make_group(tmp_path) -> AsyncIterator[MakeGroup]:
    """Factory: ``await make_group(**settings_overrides)`` → a started ``GroupEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(users: tuple[str, ...] = USERS, **overrides: Any) -> GroupEnv:
            env = await new_ports(**overrides)
            for user_id in users:
                await env.ports.users.create_user(UserRecord(user_id, "name-" + user_id, "x", 0))
            now = [NOW]
            fn = GroupFunction(GroupConfig.from_settings(env.settings), env.ports, lambda: now[0])
            await fn.start()
            return GroupEnv(env.ports, env.bus, fn, now)

        yield make


@pytest.fixture
async def env(make_group: MakeGroup) -> GroupEnv:
    """Users ua..ue exist."""
    return await make_group()
