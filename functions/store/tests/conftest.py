"""Fixtures for the store function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.functions.store.handler import StoreFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, port_sets


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
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> StoreEnv:
            env = await new_ports(**overrides)
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return StoreEnv(env.settings, env.ports, env.bus, fn)

        yield make


@pytest.fixture
async def env(make_store: MakeStore) -> StoreEnv:
    """A store function with default test settings."""
    return await make_store()
