"""Optional OpenTelemetry spans, one per handled event, exported over OTLP/HTTP.

Off unless ``IMFAAS_OTLP_ENDPOINT`` is set: then OpenTelemetry is imported (the ``otel`` extra)
and each span continues the event's ``traceparent`` (same trace id, parented to its span id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from imfaas.events import trace_context

OTLP_TRACES_PATH = "/v1/traces"

# None while disabled: call sites then pay one global lookup and import nothing.
_tracer: Any = None
_provider: Any = None


def configure(endpoint: str, service_name: str, instance: str = "", exporter: Any = None) -> None:
    """Record spans for this process and send them to ``endpoint`` (or to ``exporter``)."""
    global _tracer, _provider
    if not endpoint and exporter is None:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError("IMFAAS_OTLP_ENDPOINT needs the otel extra: imfaas[otel]") from exc

    if exporter is None:
        # The setting names the collector; OTLP/HTTP takes traces on its /v1/traces path.
        url = endpoint.rstrip("/")
        if not url.endswith(OTLP_TRACES_PATH):
            url += OTLP_TRACES_PATH
        exporter = OTLPSpanExporter(endpoint=url)
    attributes = {"service.name": service_name}
    if instance:
        attributes["service.instance.id"] = instance
    shutdown()
    # A provider of our own, not the global one: it can be replaced (tests, restarts).
    _provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    _tracer = _provider.get_tracer("imfaas")


def enabled() -> bool:
    """True once ``configure`` turned spans on."""
    return _tracer is not None


def flush() -> None:
    """Export the spans still queued (tests, before a clean stop)."""
    if _provider is not None:
        _provider.force_flush()


def shutdown() -> None:
    """Export what is queued and stop recording."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def span(name: str, event: Any, kind: str = "server") -> contextlib.AbstractContextManager[Any]:
    """A span around handling ``event``, inside ``trace_context.handling`` (a no-op when off).

    ``kind`` is ``server`` (a function handles), ``consumer`` (a bus delivery) or ``client``
    (the gateway forwards).
    """
    if _tracer is None:
        return contextlib.nullcontext()
    return _recorded(name, event, kind)


@contextlib.contextmanager
def _recorded(name: str, event: Any, kind: str) -> Iterator[Any]:
    from opentelemetry import trace

    # handling() made the event's traceparent (or a fresh one) current: the span's parent.
    traceparent = trace_context.current() or trace_context.new_traceparent()
    parent = trace.SpanContext(
        trace_id=int(trace_context.trace_id(traceparent), 16),
        span_id=int(trace_context.span_id(traceparent), 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(traceparent[53:], 16)),
    )
    context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    attributes = {"cloudevents.event_id": event["id"], "cloudevents.event_type": event["type"]}
    request_id = trace_context.current_request_id()
    if request_id is not None:
        attributes["imfaas.request_id"] = request_id
    with _tracer.start_as_current_span(
        name, context=context, kind=trace.SpanKind[kind.upper()], attributes=attributes
    ) as current:
        yield current
