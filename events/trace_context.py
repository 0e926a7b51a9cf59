"""W3C trace context carried in the CloudEvents ``traceparent`` extension, hop to hop.

The gateway starts a trace per client request; whoever handles an event makes its
traceparent current (``handling``), and every event created meanwhile carries a child of it:
the same trace id and a span id of its own. No OpenTelemetry needed for the propagation.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from imfaas.events import catalog

# Trace and span ids need to be unique, not unguessable: a seeded PRNG instead of urandom.
_ids = random.Random(secrets.randbits(128))

_traceparent: ContextVar[str | None] = ContextVar("imfaas_traceparent", default=None)
_request_id: ContextVar[str | None] = ContextVar("imfaas_request_id", default=None)

# version 00: "00-" + 32 hex trace id + "-" + 16 hex span id + "-" + 2 hex flags.
_LENGTH = 55
MAX_REQUEST_ID = 128


def new_traceparent() -> str:
    """A fresh W3C ``traceparent`` (one trace per client request), sampled."""
    return f"00-{_ids.getrandbits(128):032x}-{_ids.getrandbits(64):016x}-01"


def is_traceparent(value: object) -> bool:
    """True for a well-formed version-00 traceparent with non-zero ids."""
    if not isinstance(value, str) or len(value) != _LENGTH:
        return False
    if value[:3] != "00-" or value[35] != "-" or value[52] != "-":
        return False
    trace, span, flags = value[3:35], value[36:52], value[53:]
    try:
        return int(trace, 16) != 0 and int(span, 16) != 0 and int(flags, 16) >= 0
    except ValueError:
        return False


def child_of(traceparent: str) -> str:
    """The same trace and flags with a new span id (one hop further)."""
    return f"{traceparent[:36]}{_ids.getrandbits(64):016x}{traceparent[52:]}"


def trace_id(traceparent: str) -> str:
    """The 32 hex digits that name the trace."""
    return traceparent[3:35]


def span_id(traceparent: str) -> str:
    """The 16 hex digits that name the span."""
    return traceparent[36:52]


def current() -> str | None:
    """The traceparent of what this task is handling, if anything."""
    return _traceparent.get()


def current_request_id() -> str | None:
    """The client's request id (frame id) of what this task is handling, if any."""
    return _request_id.get()


def next_traceparent() -> str | None:
    """A child of the current trace for an event created now (None outside a trace)."""
    parent = _traceparent.get()
    return None if parent is None else child_of(parent)


@contextlib.contextmanager
def tracing(traceparent: str | None, request_id: str | None = None) -> Iterator[None]:
    """Make ``traceparent`` (a new trace when missing or malformed) current in this block."""
    if not is_traceparent(traceparent):
        traceparent = new_traceparent()
    trace_token = _traceparent.set(traceparent)
    request_token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(request_token)
        _traceparent.reset(trace_token)


def handling(event: Any) -> contextlib.AbstractContextManager[None]:
    """The block in which a function (or a hop that passes it on) handles ``event``."""
    return tracing(event.get(catalog.EXT_TRACEPARENT), request_id_of(event))


def request_id_of(event: Any) -> str | None:
    """The client's frame id behind an event: a forwarded frame's ``id``, or the
    ``reply_to.request_id`` that the message path carries along."""
    data = event.get_data()
    if not isinstance(data, dict):
        return None
    if catalog.frame_type_of(event["type"]) is not None:
        found = data.get("id")
    else:
        reply_to = data.get("reply_to")
        found = reply_to.get("request_id") if isinstance(reply_to, dict) else None
    # Client-chosen: only a short string goes into logs.
    return found if isinstance(found, str) and len(found) <= MAX_REQUEST_ID else None
