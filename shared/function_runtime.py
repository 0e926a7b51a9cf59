"""What every function is, and how client frames and HTTP requests reach its handlers.

A function is built by ``create_function(settings, ports)``, started once, then handles
CloudEvents: forwarded client frames (reply: one frame, or nothing when a later event
answers), forwarded HTTP requests (reply: status and body) and bus events (reply: nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import reply_to
from imfaas.shared.errors import BackendUnavailable, BadRequest, ImfaasError, Internal, Unavailable

log = logging.getLogger("imfaas.function")


class Function(Protocol):
    """A deployable function: started once, then fed CloudEvents."""

    name: str

    async def start(self) -> None:
        """Open clients and apply nothing else; called once before the first event."""

    async def stop(self) -> None:
        """Close clients."""

    async def ready(self) -> bool:
        """True when the function's backends answer."""

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Handle one event; return the reply event, or None (accepted, nothing to say)."""


# The protocol's request ids (events/schemas/frames/defs.json request_id).
MAX_REQUEST_ID_LEN = 128


@dataclass(frozen=True, slots=True)
class FrameContext:
    """Who sent a forwarded frame and where replies go (set by the gateway, trusted)."""

    user_id: str
    device_id: str
    session_id: str
    platform: str
    node_id: str
    conn_id: str
    request_id: str

    @classmethod
    def from_event(cls, event: CloudEvent, frame: dict[str, Any]) -> FrameContext:
        """Read the gateway's extension attributes; raise ``BadRequest`` if any is missing."""
        try:
            return cls(
                user_id=event[catalog.EXT_USER],
                device_id=event[catalog.EXT_DEVICE],
                session_id=event.get(catalog.EXT_SESSION) or "",
                platform=event.get(catalog.EXT_PLATFORM) or "web",
                node_id=event[catalog.EXT_NODE],
                conn_id=event[catalog.EXT_CONN],
                request_id=str(frame["id"]),
            )
        except KeyError as exc:
            raise BadRequest(f"forwarded frame lacks {exc.args[0]}") from exc


FrameHandler = Callable[[FrameContext, dict[str, Any]], Awaitable[dict[str, Any] | None]]
HttpHandler = Callable[[CloudEvent, dict[str, Any]], Awaitable[tuple[int, Any]]]


def client_error(exc: BaseException) -> ImfaasError:
    """Map any exception to the client-safe error it should become."""
    if isinstance(exc, ImfaasError):
        return exc
    if isinstance(exc, BackendUnavailable):
        log.warning("backend unavailable: %s", exc)
        return Unavailable()
    log.exception("internal error", exc_info=exc)
    return Internal()


class FrameRouter:
    """Dispatches forwarded client frames to handlers by frame type and maps their errors."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._handlers: dict[str, FrameHandler] = {}

    def add(self, frame_type: str, handler: FrameHandler) -> None:
        """Route ``frame_type`` to ``handler``."""
        self._handlers[frame_type] = handler

    def owns(self, event_type: str) -> bool:
        """True if the event is a client frame this router handles."""
        frame_type = catalog.frame_type_of(event_type)
        return frame_type is not None and frame_type in self._handlers

    async def dispatch(self, event: CloudEvent) -> CloudEvent | None:
        """Run the handler; the reply (or error frame) comes back as a ``reply`` event."""
        frame = event.get_data()
        request_id = frame.get("id") if isinstance(frame, dict) else None
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_LEN:
            request_id = None  # an error echoes only an id the client could have sent
        try:
            if not isinstance(frame, dict) or request_id is None:
                raise BadRequest(
                    f"frame must be an object with a string id of 1-{MAX_REQUEST_ID_LEN} characters"
                )
            frame_type = catalog.frame_type_of(event["type"]) or ""
            handler = self._handlers.get(frame_type)
            if handler is None:
                raise BadRequest(f"unknown frame type {frame_type!r}")
            ctx = FrameContext.from_event(event, frame)
            reply = await handler(ctx, frame)
            if reply is None:
                return None
            reply["id"] = request_id
        except Exception as exc:
            reply = client_error(exc).to_frame(request_id)
        return reply_to(event, catalog.REPLY, self._source, reply)


class HttpRouter:
    """Dispatches forwarded HTTP requests; replies are ``http.response`` events."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._handlers: dict[str, HttpHandler] = {}

    def add(self, event_type: str, handler: HttpHandler) -> None:
        """Route an ``io.imfaas.http.*`` type to ``handler``."""
        self._handlers[event_type] = handler

    def owns(self, event_type: str) -> bool:
        """True if the router has a handler for this type."""
        return event_type in self._handlers

    async def dispatch(self, event: CloudEvent) -> CloudEvent:
        """Run the handler and wrap its status and body (or its error) in a reply event."""
        body = event.get_data()
        headers: dict[str, str] = {}
        try:
            if not isinstance(body, dict):
                raise BadRequest("body must be a JSON object")
            status, payload = await self._handlers[event["type"]](event, body)
        except Exception as exc:
            error = client_error(exc)
            status, payload = error.http_status, error.to_http_body()
            headers = error.http_headers()
        data: dict[str, Any] = {"status": status, "body": payload}
        if headers:
            data["headers"] = headers
        return reply_to(event, catalog.HTTP_RESPONSE, self._source, data)


class FunctionBase:
    """Defaults for functions whose ports are opened and closed by their host."""

    name = "function"

    async def start(self) -> None:
        """Nothing to open."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def ready(self) -> bool:
        """Always ready once built."""
        return True
