"""Fixtures for the media function: embedded ports, and local-file objects served over HTTP."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from imfaas.functions.media.handler import MediaFunction, create_function
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.adapters.object_store_files import LocalFileObjectStore, object_routes
from imfaas.shared.settings import Settings
from imfaas.shared.testing import identity, port_sets, reply_frame


@dataclass
class MediaEnv:
    """A started media function whose presigned URLs point at a live local object server."""

    settings: Settings
    ports: Ports
    fn: MediaFunction

    async def ask(self, user: str, frame: dict[str, Any], request_id: str = "q1"):
        """One frame from ``user``; return the reply frame."""
        reply = await reply_frame(self.fn.handle, {"id": request_id, **frame}, identity(user))
        assert reply is not None
        return reply


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One blocking HTTP request: (status, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def call(method: str, url: str, body: bytes | None = None, headers=None):
    """``http`` off the event loop (the object server runs on it)."""
    return await asyncio.to_thread(http, method, url, body, headers)


MakeMedia = Callable[..., Awaitable[MediaEnv]]


@pytest.fixture
async def make_media(tmp_path) -> AsyncIterator[MakeMedia]:
    """Factory: ``await make_media(**settings_overrides)`` → a started ``MediaEnv``."""
    servers: list[TestServer] = []
    async with port_sets(tmp_path) as new_ports:

        async def make(**overrides: Any) -> MediaEnv:
            env = await new_ports(**overrides)
            objects = LocalFileObjectStore.in_data_dir(env.settings.data_dir, "http://unset")
            app = web.Application()
            app.router.add_routes(object_routes(objects))
            server = TestServer(app)
            await server.start_server()
            servers.append(server)
            objects.base_url = str(server.make_url("")).rstrip("/")
            env.ports.objects_ = objects
            fn = create_function(env.settings, env.ports)
            await fn.start()
            return MediaEnv(env.settings, env.ports, fn)

        try:
            yield make
        finally:
            for server in servers:
                await server.close()


@pytest.fixture
async def env(make_media: MakeMedia) -> MediaEnv:
    """Default limits."""
    return await make_media()
