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
from imfaas.shared.testing import RecordingEventBus, make_settings, open_test_ports

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
    opened: list[Ports] = []

    async def make(users: tuple[str, ...] = USERS, **overrides: Any) -> SendEnv:
        settings = make_settings(tmp_path / f"env{len(opened)}", **overrides)
        ports, bus, _ = await open_test_ports(settings)
        opened.append(ports)
        for user_id in users:
            await ports.users.create_user(UserRecord(user_id, "name-" + user_id, "x", 0))
        fn = create_function(settings, ports)
        await fn.start()
        return SendEnv(settings, ports, bus, fn)

    yield make
    for ports in opened:
        await ports.close()


@pytest.fixture
async def env(make_send: MakeSend) -> SendEnv:
    """Users ua, ub and uc exist."""
    return await make_send()
