"""Minimal asyncio client for Centrifugo's JSON client protocol over WebSocket (aiohttp).

Protocol facts this relies on, read from the sources pinned by centrifugo v6.9.1
(github.com/centrifugal/protocol v0.19.2 and github.com/centrifugal/centrifuge):

* Commands are ``{"id": N, "<method>": {...}}`` with N > 0 (``client.proto`` ``Command``);
  replies echo ``id`` and carry either the method's result or ``"error": {"code", "message"}``
  (``Reply``). Pushes have no ``id``: ``{"push": {"channel": ..., "pub": {"data": ...}}}``.
* ``data`` fields are embedded JSON, not base64 (``protocol.Raw``).
* One WebSocket text frame may hold several JSON objects separated by ``\\n`` (the server
  batches up to 16 queued replies/pushes per frame: ``JSONDataEncoder``, ``writer.go``); a
  client may batch commands the same way.
* Pings are app-level: the server sends an empty object ``{}`` (every 25 s by default) and the
  client must answer ``{}`` within the pong timeout (8 s). An ``{}`` sent without a preceding
  server ping is an "unnecessary pong" and the server disconnects the client (bad request),
  so exactly one ``{}`` goes back per ``{}`` received.
* Disconnects arrive as WebSocket close frames (code + reason), not as pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import warnings
from typing import Any

import aiohttp
import jwt
from jwt.warnings import InsecureKeyLengthWarning

__all__ = ["PeerConnection", "PeerError", "make_token"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def make_token(user: str, secret: str = "bench-secret") -> str:
    """A connection JWT for ``user`` (HS256, claims ``{"sub": user}``, no expiry)."""
    with warnings.catch_warnings():  # the bench secret is short on purpose
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({"sub": user}, secret, algorithm="HS256")


class PeerError(Exception):
    """An error reply to a command (``{"id": N, "error": {"code", "message"}}``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"centrifugo error {code}: {message}")
        self.code = code
        self.message = message


class PeerConnection:
    """One authenticated client connection subscribed to its own ``personal:<user>`` channel."""

    messages: asyncio.Queue[tuple[str, int]]

    def __init__(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, user: str
    ) -> None:
        self.user = user
        self.messages = asyncio.Queue()
        self.pings = 0  # server pings answered (P3 counts its heartbeats with it)
        self._session = session
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._closed_error: BaseException | None = None
        self._reader = asyncio.create_task(self._read_loop(), name=f"centrifugo-read-{user}")

    @classmethod
    async def open(cls, url: str, user: str) -> PeerConnection:
        """Connect with a token, subscribe to ``personal:<user>``; return after both replies."""
        session = aiohttp.ClientSession()
        try:
            # autoping answers WebSocket-level pings (not used by default: Centrifugo pings
            # with {} messages unless ?cf_ws_frame_ping_pong=true); heartbeat stays off.
            ws = await session.ws_connect(url, autoping=True, max_msg_size=0)
        except BaseException:
            await session.close()
            raise
        conn = cls(session, ws, user)
        try:
            await conn._request({"connect": {"token": make_token(user), "name": "imfaas-bench"}})
            await conn._request({"subscribe": {"channel": f"personal:{user}"}})
        except BaseException:
            await conn.close()
            raise
        return conn

    async def publish(self, to_user: str, text: str) -> None:
        """Publish ``{"text": text}`` to ``personal:<to_user>``; return on the publish reply."""
        await self._request({"publish": {"channel": f"personal:{to_user}", "data": {"text": text}}})

    @property
    def closed(self) -> bool:
        """The connection has ended (closed by either side or failed)."""
        return self._closed_error is not None

    async def close(self) -> None:
        if not self._ws.closed:
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._fail_pending(ConnectionError("connection closed"))
        await self._session.close()

    async def _request(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._closed_error is not None:
            raise ConnectionError("connection closed") from self._closed_error
        self._next_id += 1
        cmd_id = self._next_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = fut
        try:
            await self._ws.send_str(_dumps({"id": cmd_id, **body}))
            return await fut
        finally:
            self._pending.pop(cmd_id, None)

    async def _read_loop(self) -> None:
        ws = self._ws
        error: BaseException = ConnectionError("connection closed")
        try:
            while True:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    received_ns = time.perf_counter_ns()
                    for line in msg.data.split("\n"):
                        if line:
                            await self._handle(json.loads(line), received_ns)
                    continue
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    error = ConnectionError(f"closed by server: code {msg.data} {msg.extra!r}")
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    error = ConnectionError(f"websocket error: {msg.data!r}")
                elif msg.type is not aiohttp.WSMsgType.CLOSING and msg.type is not (
                    aiohttp.WSMsgType.CLOSED
                ):
                    error = ConnectionError(f"unexpected websocket message type {msg.type!r}")
                break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
        finally:
            self._closed_error = error
            self._fail_pending(error)

    async def _handle(self, reply: dict[str, Any], received_ns: int) -> None:
        if not reply:  # server ping
            self.pings += 1
            await self._ws.send_str("{}")
            return
        cmd_id = reply.get("id")
        if cmd_id:
            fut = self._pending.get(cmd_id)
            if fut is None or fut.done():
                return
            err = reply.get("error")
            if err is not None:
                fut.set_exception(PeerError(err.get("code", 0), err.get("message", "")))
            else:
                fut.set_result(reply)
            return
        pub = reply.get("push", {}).get("pub")
        if pub is not None:
            self.messages.put_nowait((pub["data"]["text"], received_ns))

    def _fail_pending(self, error: BaseException) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(error)
        self._pending.clear()
