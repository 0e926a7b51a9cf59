"""Log lines as JSON (one object a line) or text, each naming the trace and request it is for.

``IMFAAS_LOG_FORMAT=json|text`` chooses; the trace id, span id and request id come from the
trace context of what the task is handling (``events/trace_context.py``), so no call site
passes them.
"""

from __future__ import annotations

import json
import logging
import os
import time

from imfaas.events import trace_context

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(trace_suffix)s"


class TraceFilter(logging.Filter):
    """Adds ``trace_id``, ``span_id`` and ``request_id`` (None outside a trace) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        traceparent = trace_context.current()
        if traceparent is None:
            record.trace_id = record.span_id = None
            record.trace_suffix = ""
        else:
            record.trace_id = trace_context.trace_id(traceparent)
            record.span_id = trace_context.span_id(traceparent)
            record.trace_suffix = f" trace={record.trace_id}"
        record.request_id = trace_context.current_request_id()
        if record.request_id is not None:
            record.trace_suffix += f" request={record.request_id}"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, trace and request ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("trace_id", "span_id", "request_id"):
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_format(default: str, environ: dict[str, str] | None = None) -> str:
    """``IMFAAS_LOG_FORMAT`` if set (``json`` or ``text``), else ``default``."""
    value = (environ if environ is not None else os.environ).get("IMFAAS_LOG_FORMAT", "")
    value = value.strip().lower() or default
    if value not in FORMATS:
        raise ValueError(f"IMFAAS_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {value!r}")
    return value


def configure_logging(level: str, fmt: str) -> None:
    """Send the root logger's records to stderr in ``fmt`` (``json`` or ``text``)."""
    handler = logging.StreamHandler()
    handler.addFilter(TraceFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def _rfc3339(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )
