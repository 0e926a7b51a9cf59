"""The access log names method, path and status, and never a query string or header."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from imfaas.gateway.access_log import PathOnlyAccessLogger

SIGNATURE = "sig-0f9e8d7c6b5a"


async def test_a_line_per_request_without_query_or_headers(caplog: pytest.LogCaptureFixture):
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/v1/objects/media/a.png", ok)
    server = TestServer(app)
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with TestClient(server) as client:
        response = await client.get(
            f"/v1/objects/media/a.png?expires=9&signature={SIGNATURE}",
            headers={"Referer": f"https://x/?token={SIGNATURE}", "Authorization": SIGNATURE},
        )
        assert response.status == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 1
    assert '"GET /v1/objects/media/a.png" 200' in lines[0]
    assert SIGNATURE not in lines[0]
    assert "expires" not in lines[0]
