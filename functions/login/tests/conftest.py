"""Fixtures for the login function: a factory building it on embedded ports in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.client_frames import SocketIdentity, client_frame_event
from imfaas.events.codec import new_event
from imfaas.functions.login.handler import LoginFunction, create_function
from imfaas.shared.access_tokens import TokenVerifier
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.settings import Settings
from imfaas.shared.testing import RecordingEventBus, port_sets


@dataclass
class LoginEnv:
    """One started login function and what it runs on."""

    settings: Settings
    ports: Ports
    bus: RecordingEventBus
    fn: LoginFunction

    async def call(
        self, event_type: str, body: Any, extensions: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send one forwarded HTTP request; return (status, body) of the reply."""
        reply = await self.fn.handle(new_event(event_type, "/test", body, extensions))
        assert reply is not None
        assert reply["type"] == catalog.HTTP_RESPONSE
        data = reply.get_data()
        return data["status"], data["body"]

    async def register(self, username: str = "alice", password: str = "correct-horse") -> str:
        """Register a user and return its id (asserts success)."""
        status, body = await self.call(
            catalog.HTTP_REGISTER, {"username": username, "password": password}
        )
        assert status == 201, body
        return body["user_id"]

    async def login(
        self, username: str = "alice", password: str = "correct-horse", **extra: Any
    ) -> dict[str, Any]:
        """Log in and return the 200 body (asserts success)."""
        status, body = await self.call(
            catalog.HTTP_LOGIN, {"username": username, "password": password, **extra}
        )
        assert status == 200, body
        return body

    def socket_of(self, body: dict[str, Any], conn_id: str = "c1") -> SocketIdentity:
        """The identity the gateway gives a socket that authenticated with ``body``'s token."""
        claims = TokenVerifier.from_dir(self.settings.data_dir / "keys", "imfaas").verify(
            body["access_token"]
        )
        return SocketIdentity(
            claims.user_id,
            claims.device_id,
            claims.session_id,
            claims.platform,
            "gw-test",
            conn_id,
        )

    async def frame(self, who: SocketIdentity, frame: dict[str, Any]) -> dict[str, Any]:
        """Forward one client frame; return the reply frame."""
        reply = await self.fn.handle(client_frame_event(frame, who))
        assert reply is not None
        assert reply["type"] == catalog.REPLY
        return reply.get_data()


MakeLogin = Callable[..., Awaitable[LoginEnv]]


@pytest.fixture
async def make_login(tmp_path) -> AsyncIterator[MakeLogin]:
    """Factory: ``await make_login(**settings_overrides)`` → a started ``LoginEnv``."""
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> LoginEnv:
            env = await new_ports(**overrides)
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return LoginEnv(env.settings, env.ports, env.bus, fn)

        yield make


@pytest.fixture
async def env(make_login: MakeLogin) -> LoginEnv:
    """A login function with default test settings."""
    return await make_login()
