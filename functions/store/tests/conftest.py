"""Fixtures for the store function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.functions.store.handler import StoreFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, make_settings, open_test_ports


@dataclass
class StoreEnv:
    """One started store function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: StoreFunction


MakeStore = Callable[..., Awaitable[StoreEnv]]


@pytest.fixture
async def make_store(tmp_path) -> AsyncIterator[MakeStore]:
    """Factory: ``await make_store(**settings_overrides)`` → a started ``StoreEnv``."""
    opened: list[Ports] = []

    async def make(**overrides: Any) -> StoreEnv:
        settings = make_settings(tmp_path / f"env{len(opened)}", **overrides)
        ports, bus, _ = await open_test_ports(settings)
        opened.append(ports)
        fn = create_function(settings, ports)
        await fn.start()
        return StoreEnv(settings, ports, bus, fn)

    yield make
    for ports in opened:
        await ports.close()


@pytest.fixture
async def env(make_store: MakeStore) -> StoreEnv:
    """A store function with default test settings."""
    return await make_store()
