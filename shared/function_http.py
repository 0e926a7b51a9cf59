"""Serve a function with functions-framework's async ``http`` signature.

The ``cloud_event`` signature always answers ``200 OK`` with a plain body, so it cannot carry a
reply event and a Knative Broker counts it as a failed delivery. This wrapper parses the
CloudEvent itself and answers with a binary-mode reply event, ``202`` with an empty body, or
``400`` for a bad event; a failed bus event answers ``500`` so the sender retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from imfaas.events import trace_context
from imfaas.events.codec import BadEvent, decode_http, encode_http
from imfaas.shared import tracing
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.function_metrics import CONTENT_TYPE, FunctionMetrics
from imfaas.shared.function_runtime import Function

log = logging.getLogger("imfaas.function")

RequestHandler = Callable[[Request], Awaitable[Response]]


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def http_entry(
    factory: Callable[[], Function],
    max_body_bytes: int = 1 << 20,
    metrics: FunctionMetrics | None = None,
) -> RequestHandler:
    """An async starlette handler that starts the function once, then serves CloudEvents
    (``POST``), its health (``GET``) and its Prometheus metrics (``GET /metrics``)."""
    metrics = metrics or FunctionMetrics()
    state: dict[str, Function] = {}
    lock = asyncio.Lock()

    async def function() -> Function:
        if "fn" not in state:
            async with lock:
                if "fn" not in state:
                    fn = factory()
                    await fn.start()
                    state["fn"] = fn
        return state["fn"]

    async def entry(request: Request) -> Response:
        if request.method == "GET" and request.url.path == "/metrics":
            body = metrics.exposition()
            # A function may count its own domain (push: sends per provider and outcome).
            own = getattr(state.get("fn"), "metrics", None)
            if own is not None:
                body += own.exposition()
            return Response(body, headers={"Content-Type": CONTENT_TYPE})
        try:
            fn = await function()
        except BackendUnavailable as exc:
            # Not started: the next request tries again. Knative keeps the pod unready.
            log.warning("cannot start: %s", exc)
            return _json(503, {"error": {"code": "unavailable", "message": "backend unavailable"}})
        if request.method == "GET":
            ok = await fn.ready()
            return _json(200 if ok else 503, {"status": "ok" if ok else "unavailable"})
        if request.method != "POST":
            return _json(405, {"error": {"code": "bad_request", "message": "POST a CloudEvent"}})
        started = time.perf_counter()
        response, outcome = await handle(fn, request)
        metrics.counted(fn.name, outcome)
        metrics.handled(fn.name, time.perf_counter() - started)
        return response

    async def handle(fn: Function, request: Request) -> tuple[Response, str]:
        body = await request.body()
        if len(body) > max_body_bytes:
            error = {"error": {"code": "too_large", "message": "event too large"}}
            return _json(413, error), "too_large"
        try:
            event = decode_http(request.headers, body)
        except BadEvent as exc:
            return _json(
                400, {"error": {"code": "bad_request", "message": str(exc)}}
            ), "bad_request"
        # Events published while handling continue this event's trace.
        with trace_context.handling(event):
            try:
                with tracing.span(f"{fn.name} handle", event):
                    reply = await fn.handle(event)
            except BackendUnavailable as exc:
                # Expected while a backend restarts: the caller (gateway, dispatcher) retries.
                log.warning("%s: backend unavailable on %s: %s", fn.name, event["id"], exc)
                error = {"error": {"code": "unavailable", "message": "backend unavailable"}}
                return _json(503, error), "unavailable"
            except Exception:
                log.exception("%s failed on %s", fn.name, event["id"])
                error = {"error": {"code": "internal", "message": "internal error"}}
                return _json(500, error), "failed"
        if reply is None:
            return Response(b"", status_code=202), "accepted"
        headers, payload = encode_http(reply)
        return Response(payload, status_code=200, headers=headers), "replied"

    return entry
