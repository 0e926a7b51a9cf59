"""Fixtures for the presence function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.functions.presence.handler import PresenceFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.ports.route_table import Route
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.settings import Settings
from imfaas.shared.socket_presence import socket_presence_event
from imfaas.shared.testing import (
    RecordingDelivery,
    RecordingEventBus,
    identity,
    port_sets,
    reply_frame,
)

USERS = ("ua", "ub", "uc")


@dataclass
class PresenceEnv:
    """One started presence function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    delivery: RecordingDelivery
    fn: PresenceFunction

    async def ask(
        self, user: str, frame: dict[str, Any], conn: str = "c1", node: str = "gw-test"
    ) -> dict[str, Any]:
        """One frame (request id q1) from ``user`` on socket ``conn`` of ``node``; the reply."""
        who = identity(user, conn_id=conn, node_id=node)
        reply = await reply_frame(self.fn.handle, {"id": "q1", **frame}, who)
        assert reply is not None
        return reply

    def notified(self) -> list[tuple[dict[str, Any], str]]:
        """Every users.notified published so far: (data, key)."""
        return self.bus.data_and_keys(catalog.USERS_NOTIFIED)

    async def socket(self, route: Route, up: bool, ts: int = 1_000) -> None:
        """What the gateway does: add or remove the route, then tell the function."""
        if up:
            await self.ports.routes.add(route, 60)
        else:
            await self.ports.routes.remove(route)
        assert await self.fn.handle(socket_presence_event(route, up, ts)) is None

    def delivered(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(node, conn, frame) of everything delivered, in order."""
        return [
            (node, item["conn"], item["frame"])
            for node, items in self.delivery.batches
            for item in items
        ]


MakePresence = Callable[..., Awaitable[PresenceEnv]]


@pytest.fixture
async def make_presence(tmp_path) -> AsyncIterator[MakePresence]:
    """Factory: ``await make_presence(**settings_overrides)`` → a started ``PresenceEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> PresenceEnv:
            env = await new_ports(**overrides)
            for user_id in USERS:
                await env.ports.users.create_user(UserRecord(user_id, "name-" + user_id, "x", 0))
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return PresenceEnv(env.settings, env.ports, env.bus, env.delivery, fn)

        yield make


@pytest.fixture
async def env(make_presence: MakePresence) -> PresenceEnv:
    """A presence function with default test settings; users ua, ub and uc exist."""
    return await make_presence()
