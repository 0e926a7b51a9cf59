"""Fixtures for the send function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.functions.send.handler import SendFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, port_sets

USERS = ("ua", "ub", "uc")


@dataclass
class SendEnv:
    """One started send function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: SendFunction


MakeSend = Callable[..., Awaitable[SendEnv]]


@pytest.fixture
async def make_send(tmp_path) -> AsyncIterator[MakeSend]:
    """Factory: ``await make_send(users=..., **settings_overrides)`` → a started ``SendEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(users: tuple[str, ...] = USERS, **overrides: Any) -> SendEnv:
            env = await new_ports(**overrides)
            for user_id in users:
                await env.ports.users.create_user(UserRecord(user_id, "name-" + user_id, "x", 0))
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return SendEnv(env.settings, env.ports, env.bus, fn)

        yield make


@pytest.fixture
async def env(make_send: MakeSend) -> SendEnv:
    """Users ua, ub and uc exist."""
    return await make_send()
