"""An asyncio client for the imfaas protocol (HTTP API and WebSocket), used by tests and chat."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp


class ClientError(Exception):
    """The server answered with an error (HTTP error body or ``error`` frame)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class LoginSession:
    """What ``POST /v1/login`` returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    user_id: str
    device_id: str
    ws_url: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> LoginSession:
        return cls(**{k: body[k] for k in cls.__dataclass_fields__})


class ImfaasClient:
    """HTTP calls against one gateway origin; ``connect`` opens WebSocket sessions."""

    def __init__(
        self, base_url: str, on_frame: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = aiohttp.ClientSession()
        self._on_frame = on_frame

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def __aenter__(self) -> ImfaasClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(
        self, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        """POST and return (status, parsed JSON body or None)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self._http.post(self.base_url + path, data=data, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def _ok(self, path: str, body: Any, token: str | None = None) -> Any:
        status, payload = await self.call(path, body, token)
        if status >= 400:
            error = (payload or {}).get("error", {})
            raise ClientError(error.get("code", "?"), error.get("message", ""), status)
        return payload

    async def register(self, username: str, password: str) -> str:
        """Create an account; returns the user id."""
        return (await self._ok("/v1/register", {"username": username, "password": password}))[
            "user_id"
        ]

    async def login(
        self,
        username: str,
        password: str,
        device_id: str | None = None,
        platform: str | None = None,
    ) -> LoginSession:
        """Log in one device."""
        body: dict[str, Any] = {"username": username, "password": password}
        if device_id is not None:
            body["device_id"] = device_id
        if platform is not None:
            body["platform"] = platform
        return LoginSession.from_body(await self._ok("/v1/login", body))

    async def refresh(self, refresh_token: str) -> LoginSession:
        """Spend a refresh token for a new pair."""
        return LoginSession.from_body(
            await self._ok("/v1/token/refresh", {"refresh_token": refresh_token})
        )

    async def logout(self, access_token: str) -> None:
        """Revoke this device's tokens and close its sockets."""
        await self._ok("/v1/logout", None, token=access_token)

    async def open_socket(self, ws_url: str | None = None) -> Connection:
        """A WebSocket to ``ws_url`` (default: this origin's ``/v1/ws``), not authenticated."""
        url = ws_url or self.base_url.replace("http", "ws", 1) + "/v1/ws"
        ws = await self._http.ws_connect(url, autoping=True, max_msg_size=0)
        return Connection(ws, self._on_frame)

    async def connect(self, session: LoginSession) -> Connection:
        """A WebSocket to the node login chose (``ws_url``), after ``auth`` → ``auth.ok``."""
        conn = await self.open_socket(session.ws_url or None)
        await conn.request("auth", token=session.access_token)
        return conn


class Connection:
    """One WebSocket: requests matched to replies by id, events queued."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_frame: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.ws = ws
        self._on_frame = on_frame
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._unmatched: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if self._on_frame is not None:
                    self._on_frame(frame)
                waiter = self._waiting.pop(frame.get("id"), None) if "id" in frame else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                elif "id" in frame:
                    self._unmatched.put_nowait(frame)
                else:
                    self.events.put_nowait(frame)
        finally:
            self.close_code = self.ws.close_code
            self._closed.set()
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError(f"socket closed ({self.close_code})"))

    def next_id(self) -> str:
        """A fresh request id for this socket."""
        return f"r{next(self._ids)}"

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send a frame as is."""
        await self.ws.send_str(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """Send raw text (for malformed-frame tests)."""
        await self.ws.send_str(text)

    async def request_raw(
        self, frame_type: str, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send a request and return its reply frame, error frames included."""
        request_id = fields.pop("id", None) or self.next_id()
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        await self.send_frame({"type": frame_type, "id": request_id, **fields})
        return await asyncio.wait_for(waiter, timeout)

    async def request(
        self, frame_type: str, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send a request; raise ``ClientError`` on an ``error`` reply."""
        reply = await self.request_raw(frame_type, timeout, **fields)
        if reply.get("type") == "error":
            raise ClientError(reply.get("code", "?"), reply.get("message", ""))
        return reply

    async def next_event(
        self, event_type: str | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The next event (of a type, skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event_type is None or event.get("type") == event_type:
                    return event

    async def next_unmatched(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame with an id that no request was waiting for."""
        return await asyncio.wait_for(self._unmatched.get(), timeout)

    async def wait_closed(self, timeout: float | None = 5.0) -> int | None:
        """Wait for the server to close the socket (``None``: as long as it takes); returns
        the close code."""
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.close_code

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
