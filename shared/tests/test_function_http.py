"""The functions-framework wrapper: CloudEvents in over HTTP, reply events, health, errors.

Requests go through ``starlette.testclient.TestClient`` when its HTTP client (``httpx2``, or
the older ``httpx``) is installed, and straight through the ASGI interface otherwise (the same
app either way).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import warnings
from pathlib import Path
from typing import Any

import functions_framework.aio
from cloudevents.http import CloudEvent
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route

from imfaas.events.codec import encode_http, new_event
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.function_http import http_entry

REPO = Path(__file__).resolve().parents[2]
REQUEST_TYPE = "io.imfaas.test.request.v1"
REPLY_TYPE = "io.imfaas.test.reply.v1"


def _test_client_class() -> Any:
    """starlette's TestClient if its HTTP client is importable, else None."""
    if not any(importlib.util.find_spec(name) for name in ("httpx2", "httpx")):
        return None
    with warnings.catch_warnings():
        # Starlette warns when it falls back from httpx2 to httpx; either drives the app.
        warnings.simplefilter("ignore", UserWarning)
        from starlette.testclient import TestClient
    return TestClient


TEST_CLIENT = _test_client_class()


class FakeFunction:
    """Records what it was given; replies as told."""

    name = "fake"

    def __init__(self, reply: str = "event", ready: bool = True) -> None:
        self.reply = reply
        self.is_ready = ready
        self.starts = 0
        self.events: list[CloudEvent] = []

    async def start(self) -> None:
        self.starts += 1

    async def stop(self) -> None:
        pass

    async def ready(self) -> bool:
        return self.is_ready

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        self.events.append(event)
        if self.reply == "raise":
            raise RuntimeError("database password is hunter2")
        if self.reply == "backend down":
            raise BackendUnavailable("postgres at db:5432 refused (password hunter2)")
        if self.reply == "none":
            return None
        return new_event(REPLY_TYPE, "/fake", {"echo": event.get_data()})


def app_for(fn: FakeFunction, methods=("GET", "POST"), **options: Any) -> Starlette:
    entry = http_entry(lambda: fn, **options)
    # As functions-framework routes them: every path reaches the target.
    return Starlette(
        routes=[
            Route("/", entry, methods=list(methods)),
            Route("/{path:path}", entry, methods=list(methods)),
        ]
    )


def call(
    app: Starlette,
    method: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    path: str = "/",
) -> tuple[int, dict[str, str], bytes]:
    """One request: status, lower-cased headers, body."""
    headers = headers or {}
    if TEST_CLIENT is not None:
        with TEST_CLIENT(app, raise_server_exceptions=False) as client:
            response = client.request(method, path, headers=headers, content=body)
        return (
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )
    return asyncio.run(_asgi_call(app, method, headers, body, path))


async def _asgi_call(
    app: Starlette, method: str, headers: dict[str, str], body: bytes, path: str = "/"
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in {**headers, "content-length": str(len(body))}.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]
    }
    response_body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], response_headers, response_body


def binary_request(data: Any = None) -> tuple[dict[str, str], bytes]:
    event = new_event(REQUEST_TYPE, "/test", data if data is not None else {"hello": "world"})
    return encode_http(event)


def test_binary_cloudevent_gets_a_binary_reply_event():
    fn = FakeFunction()
    headers, body = binary_request({"hello": "world"})

    status, reply_headers, reply_body = call(app_for(fn), "POST", headers, body)

    assert status == 200
    assert reply_headers["ce-type"] == REPLY_TYPE
    assert reply_headers["ce-source"] == "/fake"
    assert reply_headers["ce-specversion"] == "1.0"
    assert reply_headers["ce-id"]
    assert json.loads(reply_body) == {"echo": {"hello": "world"}}
    assert len(fn.events) == 1
    assert fn.events[0]["type"] == REQUEST_TYPE
    assert fn.events[0].get_data() == {"hello": "world"}


def test_structured_cloudevent_is_accepted():
    fn = FakeFunction()
    structured = {
        "specversion": "1.0",
        "type": REQUEST_TYPE,
        "source": "/test",
        "id": "e1",
        "datacontenttype": "application/json",
        "data": {"n": 1},
    }
    headers = {"content-type": "application/cloudevents+json"}

    status, reply_headers, reply_body = call(
        app_for(fn), "POST", headers, json.dumps(structured).encode()
    )

    assert status == 200
    assert reply_headers["ce-type"] == REPLY_TYPE
    assert json.loads(reply_body) == {"echo": {"n": 1}}


def test_handler_returning_none_is_202_with_an_empty_body():
    fn = FakeFunction(reply="none")
    headers, body = binary_request()

    status, reply_headers, reply_body = call(app_for(fn), "POST", headers, body)

    assert status == 202
    assert reply_body == b""
    assert not any(name.startswith("ce-") for name in reply_headers)
    assert len(fn.events) == 1


def test_garbage_body_is_400_json_error_and_never_reaches_the_handler():
    fn = FakeFunction()

    status, headers, body = call(
        app_for(fn), "POST", {"content-type": "text/plain"}, b"this is not a cloudevent"
    )

    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert fn.events == []


def test_binary_event_with_non_json_data_is_400():
    fn = FakeFunction()
    headers, _ = binary_request()

    status, _, body = call(app_for(fn), "POST", headers, b"{not json")

    assert status == 400
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert fn.events == []


def test_handler_raising_is_500_without_the_exception_text():
    fn = FakeFunction(reply="raise")
    headers, body = binary_request()

    status, reply_headers, reply_body = call(app_for(fn), "POST", headers, body)

    assert status == 500
    assert reply_headers["content-type"].startswith("application/json")
    assert json.loads(reply_body) == {"error": {"code": "internal", "message": "internal error"}}
    assert b"hunter2" not in reply_body
    assert b"RuntimeError" not in reply_body


def test_backend_unavailable_while_handling_is_503_so_the_caller_retries():
    fn = FakeFunction(reply="backend down")
    headers, body = binary_request()

    status, _, reply_body = call(app_for(fn), "POST", headers, body)

    assert status == 503
    assert json.loads(reply_body) == {
        "error": {"code": "unavailable", "message": "backend unavailable"}
    }
    assert b"hunter2" not in reply_body and b"5432" not in reply_body


def test_body_over_the_limit_is_413():
    fn = FakeFunction()
    headers, body = binary_request({"blob": "x" * 2000})

    status, _, reply_body = call(app_for(fn, max_body_bytes=1000), "POST", headers, body)

    assert status == 413
    assert json.loads(reply_body)["error"]["code"] == "too_large"
    assert fn.events == []


def test_get_is_health_200_when_ready():
    status, _, body = call(app_for(FakeFunction(ready=True)), "GET")

    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_get_is_health_503_when_not_ready():
    status, _, body = call(app_for(FakeFunction(ready=False)), "GET")

    assert status == 503
    assert json.loads(body) == {"status": "unavailable"}


def test_other_methods_are_refused():
    status, _, body = call(app_for(FakeFunction(), methods=("GET", "POST", "PUT")), "PUT")

    assert status == 405
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_the_function_is_built_and_started_once():
    built: list[FakeFunction] = []

    def factory() -> FakeFunction:
        built.append(FakeFunction())
        return built[-1]

    app = Starlette(routes=[Route("/", http_entry(factory), methods=["GET", "POST"])])
    headers, body = binary_request()
    call(app, "GET")
    call(app, "POST", headers, body)
    call(app, "POST", headers, body)

    assert len(built) == 1
    assert built[0].starts == 1
    assert len(built[0].events) == 2


def test_send_function_loads_through_the_functions_framework_loader():
    app = functions_framework.aio.create_asgi_app(
        target="send", source=str(REPO / "functions" / "send" / "main.py"), signature_type="http"
    )

    assert isinstance(app, Starlette)
    assert callable(app)


def test_a_backend_down_at_start_is_503_unavailable_and_start_is_retried():
    class StartsWhenUp(FakeFunction):
        backend_up = False

        async def start(self) -> None:
            self.starts += 1
            if not StartsWhenUp.backend_up:
                raise BackendUnavailable("postgres: connection refused")

    fn = StartsWhenUp()
    app = app_for(fn)
    headers, body = binary_request({"n": 1})

    for method in ("GET", "POST"):
        status, _, payload = call(app, method, headers, body)
        assert status == 503
        assert json.loads(payload)["error"]["code"] == "unavailable"
        assert b"refused" not in payload
    assert fn.events == []

    StartsWhenUp.backend_up = True
    status, _, _ = call(app, "POST", headers, body)
    assert status == 200
    assert fn.starts == 3
    assert len(fn.events) == 1


def test_get_metrics_counts_events_by_outcome_with_their_handling_time():
    fn = FakeFunction()
    app = app_for(fn)
    headers, body = binary_request()
    call(app, "POST", headers, body)
    call(app, "POST", headers, body)
    fn.reply = "none"
    call(app, "POST", headers, body)
    fn.reply = "backend down"
    call(app, "POST", headers, body)
    call(app, "POST", {"content-type": "text/plain"}, b"not an event")

    status, reply_headers, text = call(app, "GET")  # the health check is no event
    assert status == 200
    status, reply_headers, text = call(app, "GET", path="/metrics")
    assert status == 200
    assert reply_headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }

    def events(outcome: str) -> float:
        key = (("function", "fake"), ("outcome", outcome))
        return samples.get(("imfaas_function_events_total", key), 0)

    counts = {o: events(o) for o in ("replied", "accepted", "unavailable", "bad_request")}
    assert counts == {"replied": 2, "accepted": 1, "unavailable": 1, "bad_request": 1}
    assert samples["imfaas_function_handle_seconds_count", (("function", "fake"),)] == 5
    assert len(fn.events) == 4
