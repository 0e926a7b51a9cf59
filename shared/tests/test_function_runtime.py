"""HttpRouter and FrameRouter: results and errors become reply events."""

from __future__ import annotations

from typing import Any

import pytest

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.shared.errors import RateLimited
from imfaas.shared.function_runtime import FrameRouter, HttpRouter


async def answer(handler: Any) -> dict[str, Any]:
    router = HttpRouter("/test")
    router.add(catalog.HTTP_LOGIN, handler)
    reply = await router.dispatch(new_event(catalog.HTTP_LOGIN, "/test", {"a": 1}))
    assert reply["type"] == catalog.HTTP_RESPONSE
    return reply.get_data()


async def test_a_result_is_its_status_and_body_without_headers():
    async def ok(event, body):
        return 201, {"seen": body["a"]}

    assert await answer(ok) == {"status": 201, "body": {"seen": 1}}


async def test_rate_limited_carries_retry_after():
    async def limited(event, body):
        raise RateLimited("slow down", retry_after_s=17)

    assert await answer(limited) == {
        "status": 429,
        "body": {"error": {"code": "rate_limited", "message": "slow down"}},
        "headers": {"Retry-After": "17"},
    }


@pytest.mark.parametrize(("wait", "headers"), [(None, {}), (0, {"Retry-After": "1"})])
def test_retry_after_is_absent_when_unknown_and_never_zero(wait, headers):
    assert RateLimited(retry_after_s=wait).http_headers() == headers


async def test_an_unexpected_exception_is_a_bare_500():
    async def broken(event, body):
        raise RuntimeError("secret detail")

    data = await answer(broken)

    assert data == {
        "status": 500,
        "body": {"error": {"code": "internal", "message": "internal error"}},
    }


@pytest.mark.parametrize("request_id", [[], 7, None, {"a": 1}, True])
async def test_a_frame_without_a_string_id_gets_bad_request_without_echoing_the_id(request_id):
    # Found by the send property tests: the error frame used to carry "id": [].
    async def never(ctx, frame):
        raise AssertionError("handler must not run")

    router = FrameRouter("/test")
    router.add("ping", never)
    event = new_event(catalog.client_type("ping"), "/test", {"type": "ping", "id": request_id})

    reply = (await router.dispatch(event)).get_data()

    assert reply["type"] == "error" and reply["code"] == "bad_request"
    assert "id" not in reply


@pytest.mark.parametrize("request_id", ["", "x" * 129])
async def test_a_request_id_the_protocol_refuses_is_bad_request_and_not_echoed(request_id):
    from imfaas.shared.testing import frame_event, identity

    router = FrameRouter("/test")

    async def never(ctx, frame):
        raise AssertionError("served")

    router.add("ping", never)
    reply = await router.dispatch(frame_event({"type": "ping", "id": request_id}, identity("u")))

    data = reply.get_data()
    assert (data["type"], data["code"]) == ("error", "bad_request")
    assert "id" not in data
