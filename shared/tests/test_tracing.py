"""Optional OpenTelemetry spans: one per handled event, continuing the event's traceparent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cloudevents.http import CloudEvent
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from imfaas.events import catalog, trace_context
from imfaas.events.codec import new_event
from imfaas.gateway.function_invoker import HttpInvoker, InProcessInvoker
from imfaas.shared import tracing
from imfaas.shared.function_http import http_entry
from imfaas.shared.testing import post_event

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_SPAN_ID = 0x00F067AA0BA902B7


class Recorder:
    """A function that keeps the events it handles and what it publishes meanwhile."""

    name = "send"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published: list[str | None] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ready(self) -> bool:
        return True

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        self.published.append(trace_context.next_traceparent())
        if self.fail:
            raise RuntimeError("store is down")
        return None


def traced_event(traceparent: str | None = TRACEPARENT) -> CloudEvent:
    event = new_event("io.imfaas.test.request.v1", "/test", {"reply_to": {"request_id": "req-7"}})
    if traceparent is not None:
        event[catalog.EXT_TRACEPARENT] = traceparent
    return event


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    tracing.configure("", "send", instance="pod-1", exporter=spans)
    yield spans
    tracing.shutdown()


def finished(spans: InMemorySpanExporter) -> list[Any]:
    tracing.flush()
    return list(spans.get_finished_spans())


async def test_a_function_handling_an_event_records_a_span_in_the_events_trace(exporter):
    fn = Recorder()
    event = traced_event()

    assert (await post_event(http_entry(lambda: fn), event)).status_code == 202

    [span] = finished(exporter)
    assert span.name == "send handle"
    assert span.kind is SpanKind.SERVER
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None and span.parent.span_id == PARENT_SPAN_ID
    assert span.parent.is_remote
    assert span.context.span_id != PARENT_SPAN_ID
    assert span.attributes["cloudevents.event_id"] == event["id"]
    assert span.attributes["imfaas.request_id"] == "req-7"
    assert span.resource.attributes["service.name"] == "send"
    assert span.resource.attributes["service.instance.id"] == "pod-1"
    # What the function publishes stays in the same trace.
    [child] = fn.published
    assert child is not None and trace_context.trace_id(child) == f"{TRACE_ID:032x}"


async def test_a_failing_handler_leaves_an_error_span(exporter):
    response = await post_event(http_entry(lambda: Recorder(fail=True)), traced_event())
    assert response.status_code == 500

    [span] = finished(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


async def test_the_gateways_forward_is_a_client_span_parented_to_the_event(exporter):
    async def function(request: web.Request) -> web.Response:
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/", function)
    async with TestServer(app) as server:
        invoker = HttpInvoker({"send": str(server.make_url("/"))}, timeout_s=5)
        await invoker.start()
        try:
            assert await invoker.invoke("send", traced_event()) is None
        finally:
            await invoker.stop()

    [span] = finished(exporter)
    assert span.name == "forward send"
    assert span.kind is SpanKind.CLIENT
    assert span.context.trace_id == TRACE_ID
    assert span.parent.span_id == PARENT_SPAN_ID


async def test_an_event_without_traceparent_gets_a_span_in_a_new_trace(exporter):
    fn = Recorder()
    await InProcessInvoker({"send": fn}).invoke("send", traced_event(traceparent=None))

    [span] = finished(exporter)
    [child] = fn.published
    assert child is not None
    assert span.context.trace_id == int(trace_context.trace_id(child), 16)
    assert span.context.trace_id != TRACE_ID


async def test_spans_go_to_the_otlp_http_collector_named_by_the_setting():
    received: list[bytes] = []

    async def collector(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/traces", collector)
    async with TestServer(app) as server:
        tracing.configure(str(server.make_url("")), "gateway", instance="gw-1")
        try:
            await InProcessInvoker({"send": Recorder()}).invoke("send", traced_event())
            # The exporter posts from its own thread, synchronously: the loop must keep serving.
            await asyncio.to_thread(tracing.flush)
        finally:
            await asyncio.to_thread(tracing.shutdown)

    [body] = received
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "gateway"
    [span] = resource_spans.scope_spans[0].spans
    assert span.trace_id == TRACE_ID.to_bytes(16, "big")
    assert span.parent_span_id == PARENT_SPAN_ID.to_bytes(8, "big")


async def test_nothing_is_recorded_once_tracing_is_off():
    spans = InMemorySpanExporter()
    tracing.configure("", "send", exporter=spans)
    tracing.shutdown()
    tracing.configure("", "send")

    assert not tracing.enabled()
    await InProcessInvoker({"send": Recorder()}).invoke("send", traced_event())
    assert spans.get_finished_spans() == ()


def test_without_the_setting_opentelemetry_is_never_imported():
    script = """
import asyncio, json, sys
from imfaas.events.codec import new_event
from imfaas.gateway.function_invoker import InProcessInvoker
from imfaas.shared import tracing
from imfaas.shared.function_http import http_entry
from imfaas.shared.testing import post_event
from imfaas.shared.settings import Settings
import imfaas.embedded_runtime, imfaas.shared.standalone_function

class Fn:
    async def handle(self, event):
        return None

tracing.configure(Settings.from_env().otlp_endpoint, "send")
event = new_event("io.imfaas.test.request.v1", "/test", {})
asyncio.run(InProcessInvoker({"send": Fn()}).invoke("send", event))
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
print(json.dumps({"enabled": tracing.enabled(), "loaded": loaded}))
"""
    env = {"PATH": "/usr/bin:/bin", "IMFAAS_OTLP_ENDPOINT": ""}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout) == {"enabled": False, "loaded": []}
