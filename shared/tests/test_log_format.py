"""JSON and text log lines carry the trace and request of what is being handled."""

from __future__ import annotations

import io
import json
import logging

import pytest

from imfaas.events import catalog, trace_context
from imfaas.events.codec import new_event
from imfaas.shared.log_format import JsonFormatter, TraceFilter, log_format

TEXT = "%(levelname)s %(message)s%(trace_suffix)s"


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"imfaas.test.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, stream


def handled_frame() -> tuple[object, str]:
    traceparent = trace_context.new_traceparent()
    frame = {"type": "msg.send", "id": "req-7"}
    event = new_event(
        catalog.client_type("msg.send"), "/t", frame, {catalog.EXT_TRACEPARENT: traceparent}
    )
    return event, traceparent


def test_json_lines_name_the_trace_span_and_request_inside_a_handled_event():
    logger, stream = capture(JsonFormatter())
    event, traceparent = handled_frame()
    logger.info("outside")
    with trace_context.handling(event):
        logger.warning("inside %s", "a trace")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    outside, inside, failed = (json.loads(line) for line in stream.getvalue().splitlines())

    assert outside["message"] == "outside" and outside["level"] == "INFO"
    assert not {"trace_id", "span_id", "request_id"} & outside.keys()
    assert inside["message"] == "inside a trace"
    assert inside["trace_id"] == trace_context.trace_id(traceparent)
    assert inside["span_id"] == trace_context.span_id(traceparent)
    assert inside["request_id"] == "req-7"
    assert inside["logger"] == logger.name
    assert inside["time"].endswith("Z")
    assert "RuntimeError: boom" in failed["error"]


def test_text_lines_end_with_the_trace_and_request():
    logger, stream = capture(logging.Formatter(TEXT))
    event, traceparent = handled_frame()
    with trace_context.handling(event):
        logger.info("hello")
    logger.info("bye")
    inside, outside = stream.getvalue().splitlines()
    assert inside == f"INFO hello trace={trace_context.trace_id(traceparent)} request=req-7"
    assert outside == "INFO bye"


def test_the_format_comes_from_the_environment_or_the_commands_default():
    assert log_format("json", {}) == "json"
    assert log_format("json", {"IMFAAS_LOG_FORMAT": "TEXT"}) == "text"
    assert log_format("text", {"IMFAAS_LOG_FORMAT": " json "}) == "json"
    with pytest.raises(ValueError, match="IMFAAS_LOG_FORMAT"):
        log_format("json", {"IMFAAS_LOG_FORMAT": "xml"})
