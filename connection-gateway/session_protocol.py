"""The WebSocket session as a pure state machine: text in, actions out, no sockets.

The asyncio server feeds it received frames, auth results and clock ticks, and carries out
the actions it returns. Everything the protocol says about a session (auth first, limits,
error frames, timeouts, ping) lives here, so it is tested without a network.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from imfaas.gateway.frame_rate_limits import FrameRateLimits, TokenBucket

CLOSE_AUTH = 4401
CLOSE_IDLE = 4408
CLOSE_KICKED = 4409
CLOSE_RATE = 4429
CLOSE_TOO_BIG = 1009
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013
MAX_ID_LEN = 128
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class State(Enum):
    """Where a session is."""

    AWAIT_AUTH = "await_auth"
    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Send this frame to the client."""

    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CloseSocket:
    """Close the socket with this code."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check this token, then call ``auth_succeeded`` or ``auth_failed``."""

    request_id: str
    token: object


@dataclass(frozen=True, slots=True)
class Forward:
    """Send this request frame to the function that owns its type; relay the reply."""

    frame: dict[str, Any]


Action = SendFrame | CloseSocket | Authenticate | Forward


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-socket limits from settings."""

    max_frame_bytes: int = 64 * 1024
    auth_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    max_pending_while_auth: int = 64
    # Token bucket per socket: sustained requests per second and the burst allowed on top.
    rate_per_s: float = 50.0
    rate_burst: int = 200
    # A socket that keeps sending after this many refusals in a row is closed with 4429.
    max_refusals: int = 50


def error_frame(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """The protocol's ``error`` frame."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        frame["id"] = request_id
    return frame


class SessionProtocol:
    """One client socket's protocol state."""

    # One per socket: no instance dict (idle sockets are most of the gateway's memory).
    __slots__ = (
        "_auth_request_id",
        "_bucket",
        "_frame_limits",
        "_limits",
        "_on_frame",
        "_pending",
        "_refusals",
        "_routable",
        "device_id",
        "last_activity",
        "opened_at",
        "state",
        "user_id",
    )

    def __init__(
        self,
        limits: SessionLimits,
        routable: Callable[[str], bool],
        now: float,
        frame_limits: FrameRateLimits | None = None,
        on_frame: Callable[[str | None], None] | None = None,
    ) -> None:
        """``frame_limits``: the node's per-user, per-type buckets, shared by every session;
        ``on_frame``: told each received frame's type (None when it cannot be read)."""
        self._limits = limits
        self._on_frame = on_frame
        self._frame_limits = frame_limits
        self._routable = routable
        self.state = State.AWAIT_AUTH
        self.opened_at = now
        self.last_activity = now
        self.user_id: str | None = None
        self.device_id: str | None = None
        # Frames that arrive while the token is checked; None when there are none.
        self._pending: list[str] | None = None
        self._auth_request_id: str | None = None
        self._bucket = TokenBucket(limits.rate_burst, now)
        self._refusals = 0

    # -- input -------------------------------------------------------------------------

    def receive_text(self, data: str, now: float) -> list[Action]:
        """A text frame arrived."""
        if self.state is State.CLOSED:
            return []
        self.last_activity = now
        if len(data) > self._limits.max_frame_bytes or (
            len(data) * 4 > self._limits.max_frame_bytes
            and len(data.encode("utf-8", "surrogatepass")) > self._limits.max_frame_bytes
        ):
            return self._close(CLOSE_TOO_BIG, "frame too large")
        if self.state is State.AUTHENTICATING:
            if self._pending is None:
                self._pending = []
            if len(self._pending) >= self._limits.max_pending_while_auth:
                return self._close(CLOSE_RATE, "too many frames before auth.ok")
            self._pending.append(data)
            return []
        frame, problem = _parse(data)
        if self._on_frame is not None:
            self._on_frame(None if problem is not None else frame["type"])  # type: ignore[index]
        if self.state is State.AWAIT_AUTH:
            return self._first_frame(frame, problem)
        if problem is not None:
            # Garbage spends the socket's budget too, so a flood of it is throttled as well.
            if not self._take_token(now):
                return self._refuse(_readable_id(frame), "slow down")
            return [SendFrame(error_frame("bad_request", problem, _readable_id(frame)))]
        assert frame is not None
        request_id, frame_type = frame["id"], frame["type"]
        if not self._take_token(now):
            return self._refuse(request_id, "slow down")
        if not self._user_may_send(frame_type, now):
            return self._refuse(request_id, f"too many {frame_type} requests; slow down")
        self._refusals = 0
        if frame_type == "ping":
            return [SendFrame({"type": "pong", "id": request_id})]
        if frame_type == "auth":
            return [SendFrame(error_frame("bad_request", "already authenticated", request_id))]
        if not self._routable(frame_type):
            return [
                SendFrame(error_frame("bad_request", f"unknown type {frame_type!r}", request_id))
            ]
        return [Forward(frame)]

    def receive_binary(self, size: int, now: float) -> list[Action]:
        """A binary frame arrived: the protocol is text only."""
        if self.state is State.CLOSED:
            return []
        self.last_activity = now
        if self._on_frame is not None:
            self._on_frame(None)
        if size > self._limits.max_frame_bytes:
            return self._close(CLOSE_TOO_BIG, "frame too large")
        if self.state is not State.OPEN:
            return self._reject_auth(None, "authenticate first")
        return [SendFrame(error_frame("bad_request", "text frames only"))]

    def receive_ping(self, now: float) -> None:
        """A WebSocket-level ping counts as activity."""
        self.last_activity = now

    def auth_succeeded(
        self, user_id: str, device_id: str, request_id: str, now: float
    ) -> list[Action]:
        """The token checked out: open the session and play frames that arrived meanwhile."""
        if self.state is not State.AUTHENTICATING:
            return []
        self.state = State.OPEN
        self.user_id, self.device_id = user_id, device_id
        self._auth_request_id = None  # only an auth timeout uses it
        self.last_activity = now
        actions: list[Action] = [
            SendFrame(
                {"type": "auth.ok", "id": request_id, "user_id": user_id, "device_id": device_id}
            )
        ]
        pending, self._pending = self._pending, None
        for data in pending or ():
            actions.extend(self.receive_text(data, now))
        return actions

    def auth_failed(self, request_id: str | None, reason: str) -> list[Action]:
        """The token was bad, expired or revoked."""
        if self.state is State.CLOSED:
            return []
        return self._reject_auth(request_id, reason)

    def auth_unavailable(self, request_id: str) -> list[Action]:
        """The token could not be checked (a backend is down): try again later, 1013."""
        if self.state is State.CLOSED:
            return []
        return [
            SendFrame(error_frame("unavailable", "cannot check the token now", request_id)),
            *self._close(CLOSE_TRY_LATER, "try again later"),
        ]

    def tick(self, now: float) -> list[Action]:
        """Clock check: auth timeout and idle timeout."""
        if self.state in (State.AWAIT_AUTH, State.AUTHENTICATING):
            if now - self.opened_at > self._limits.auth_timeout_s:
                return self._reject_auth(self._auth_request_id, "auth timeout")
        elif self.state is State.OPEN and now - self.last_activity > self._limits.idle_timeout_s:
            return self._close(CLOSE_IDLE, "idle")
        return []

    def closed(self) -> None:
        """The socket is gone (either side closed it)."""
        self.state = State.CLOSED

    # -- internals ---------------------------------------------------------------------

    def _take_token(self, now: float) -> bool:
        return self._bucket.take(self._limits.rate_per_s, self._limits.rate_burst, now)

    def _user_may_send(self, frame_type: str, now: float) -> bool:
        if self._frame_limits is None or self.user_id is None:
            return True
        return self._frame_limits.allow(self.user_id, frame_type, now)

    def _refuse(self, request_id: str | None, message: str) -> list[Action]:
        self._refusals += 1
        if self._refusals > self._limits.max_refusals:
            return self._close(CLOSE_RATE, "rate limited")
        return [SendFrame(error_frame("rate_limited", message, request_id))]

    def _first_frame(self, frame: dict[str, Any] | None, problem: str | None) -> list[Action]:
        if problem is not None or frame is None or frame.get("type") != "auth":
            return self._reject_auth(_readable_id(frame), "the first frame must be auth")
        self.state = State.AUTHENTICATING
        self._auth_request_id = frame["id"]
        return [Authenticate(frame["id"], frame.get("token"))]

    def _reject_auth(self, request_id: str | None, reason: str) -> list[Action]:
        return [
            SendFrame(error_frame("unauthorized", reason, request_id)),
            *self._close(CLOSE_AUTH, reason),
        ]

    def _close(self, code: int, reason: str) -> list[Action]:
        self.state = State.CLOSED
        self._pending = None
        return [CloseSocket(code, reason)]


def _parse(data: str) -> tuple[dict[str, Any] | None, str | None]:
    """The frame and None, or whatever could be read and what is wrong with it."""
    try:
        frame = _DECODER.decode(data)
    except (ValueError, RecursionError):
        # RecursionError: nesting deeper than the interpreter's stack (e.g. "[" * 100000).
        return None, "frame is not JSON"
    if not isinstance(frame, dict):
        return None, "frame is not a JSON object"
    # A lone surrogate (\ud800 escaped) is not Unicode: it cannot be sent back as UTF-8.
    if _may_hold_surrogates(data) and not _encodable(frame):
        return frame, "frame is not valid Unicode"
    frame_id, frame_type = frame.get("id"), frame.get("type")
    if not isinstance(frame_id, str) or not frame_id or len(frame_id) > MAX_ID_LEN:
        return frame, f"frame needs a string id of 1..{MAX_ID_LEN} chars"
    if not isinstance(frame_type, str) or not frame_type:
        return frame, "frame needs a string type"
    return frame, None


def _reject_constant(name: str) -> float:
    # NaN and Infinity are not JSON; echoed to other clients they would break their parsers.
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _may_hold_surrogates(data: str) -> bool:
    # Cheap tests first: frames rarely escape a surrogate, and sockets never deliver raw ones.
    if "\\u" in data and _SURROGATE_ESCAPE.search(data):
        return True
    if data.isascii():
        return False
    try:
        data.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encodable(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        return False
    return True


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _readable_id(frame: dict[str, Any] | None) -> str | None:
    if frame is None:
        return None
    frame_id = frame.get("id")
    if isinstance(frame_id, str) and 0 < len(frame_id) <= MAX_ID_LEN and _encodable(frame_id):
        return frame_id
    return None
