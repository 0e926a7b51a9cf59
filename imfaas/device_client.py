"""A device that behaves like a real app: resends until acked, reconnects, syncs, drops dups.

The protocol leaves reliability half to the client (protocol.md §3 "Delivery"): resend an
unacknowledged message with the same ``client_msg_id``, drop duplicates by
``(conversation, seq)``, and ``sync`` after a gap or a reconnect. This class does exactly that
and counts what happened, so the kill tests and the chat client share one honest client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from imfaas.client import ClientError, Connection, ImfaasClient, LoginSession

# Error codes after which the same frame may simply be sent again.
RETRYABLE = frozenset({"unavailable", "internal", "rate_limited"})


@dataclass
class DeviceStats:
    """What one device saw."""

    sends: int = 0  # msg.send frames written, first tries and resends
    resends: int = 0
    acked: int = 0
    delivered: int = 0  # msg.new events received
    duplicates: int = 0  # msg.new for a (conversation, seq) already held: dropped
    synced: int = 0  # messages that first arrived through sync
    reconnects: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)


class DeviceClient:
    """One logged-in device: a socket kept open, a local message store, stats."""

    def __init__(
        self,
        client: ImfaasClient,
        session: LoginSession,
        request_timeout_s: float = 5.0,
        give_up_after_s: float = 300.0,
    ) -> None:
        self.client = client
        self.session = session
        self.request_timeout_s = request_timeout_s
        self.give_up_after_s = give_up_after_s
        self.stats = DeviceStats()
        # conversation -> seq -> message (as the server sent it, or built from our ack)
        self.messages: dict[str, dict[int, dict[str, Any]]] = {}
        self._conn: Connection | None = None
        self._pump: asyncio.Task[None] | None = None
        self._reconnecting = asyncio.Lock()
        self._gap = asyncio.Event()
        self._closed = False

    @property
    def user_id(self) -> str:
        """The device's user."""
        return self.session.user_id

    def cursors(self) -> dict[str, int]:
        """Per conversation, the highest seq up to which nothing is missing."""
        result = {}
        for conversation, held in self.messages.items():
            seq = 0
            while seq + 1 in held:
                seq += 1
            result[conversation] = seq
        return result

    # -- connection ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket (retrying until ``give_up_after_s``), then sync what was missed."""
        await self._open()
        await self.sync()

    async def _open(self) -> None:
        deadline = time.monotonic() + self.give_up_after_s
        delay = 0.1
        while True:
            try:
                conn = await self.client.connect(self.session)
                break
            except (OSError, aiohttp.ClientError, ConnectionError, TimeoutError, ClientError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
        self._conn = conn
        self._pump = asyncio.create_task(self._read_events(conn))

    async def _reconnect(self, broken: Connection | None) -> None:
        async with self._reconnecting:
            if self._closed or (self._conn is not broken and self._conn is not None):
                return  # another task already replaced it
            self.stats.reconnects += 1
            if broken is not None:
                with contextlib.suppress(Exception):
                    await broken.close()
            await self._open()
        # Outside the lock: sync's own requests may need to reconnect again.
        await self.sync()

    async def close(self) -> None:
        """Close the socket and stop reading."""
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._conn is not None:
            await self._conn.close()

    async def _read_events(self, conn: Connection) -> None:
        while True:
            get = asyncio.ensure_future(conn.events.get())
            closed = asyncio.ensure_future(conn.wait_closed(timeout=None))
            done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                closed.cancel()
                event = get.result()
                if event.get("type") == "msg.new":
                    self.stats.delivered += 1
                    if not self._hold(event["message"]):
                        self.stats.duplicates += 1
                continue
            get.cancel()
            if not self._closed:
                # Reconnect in the background; requests waiting on this socket fail and retry.
                asyncio.get_running_loop().create_task(self._reconnect(conn))
            return

    def _hold(self, message: dict[str, Any]) -> bool:
        """Keep a message; False when its (conversation, seq) was already held."""
        held = self.messages.setdefault(message["conversation"], {})
        if message["seq"] in held:
            return False
        held[message["seq"]] = message
        return True

    # -- requests ------------------------------------------------------------------------

    async def _request(self, frame_type: str, **fields: Any) -> dict[str, Any]:
        """One request, retried over reconnects and retryable errors until the deadline."""
        deadline = time.monotonic() + self.give_up_after_s
        first = True
        while True:
            conn = self._conn
            if conn is None:
                await self._reconnect(None)
                continue
            try:
                if frame_type == "msg.send":
                    self.stats.sends += 1
                    if not first:
                        self.stats.resends += 1
                first = False
                return await conn.request(frame_type, timeout=self.request_timeout_s, **fields)
            except ClientError as exc:
                if exc.code not in RETRYABLE:
                    raise
                reason = exc.code
            except TimeoutError:
                reason = "timeout"
            except (ConnectionError, aiohttp.ClientError, RuntimeError):
                reason = "socket closed"
                await self._reconnect(conn)
            self.stats.retry_reasons[reason] += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{frame_type} not answered for {self.give_up_after_s} s")
            await asyncio.sleep(0.2)

    async def send(
        self, content: dict[str, Any], client_msg_id: str, **target: str
    ) -> dict[str, Any]:
        """Send until acknowledged (same ``client_msg_id`` every time); returns the ack."""
        ack = await self._request(
            "msg.send", client_msg_id=client_msg_id, content=content, **target
        )
        self.stats.acked += 1
        self._hold(
            {
                "conversation": ack["conversation"],
                "seq": ack["seq"],
                "msg_id": ack["msg_id"],
                "sender": self.user_id,
                "sender_device": self.session.device_id,
                "client_msg_id": client_msg_id,
                "ts": ack["ts"],
                "content": content,
            }
        )
        return ack

    async def sync(self, limit: int = 1000) -> int:
        """Fetch everything above the held cursors, page by page; returns messages new to us."""
        fresh = 0
        cursors = self.cursors()
        while True:
            page = await self._request("sync", cursors=cursors, limit=limit)
            for message in page["messages"]:
                if self._hold(message):
                    fresh += 1
            cursors = page["cursors"]
            if not page["has_more"]:
                break
        self.stats.synced += fresh
        return fresh

    async def server_view(self, limit: int = 1000) -> dict[str, dict[int, dict[str, Any]]]:
        """Everything the server holds for this user, fetched from seq 0; the local store is
        left alone (for checking it against the server)."""
        view: dict[str, dict[int, dict[str, Any]]] = {}
        cursors: dict[str, int] = {}
        while True:
            page = await self._request("sync", cursors=cursors, limit=limit)
            for message in page["messages"]:
                view.setdefault(message["conversation"], {})[message["seq"]] = message
            cursors = page["cursors"]
            if not page["has_more"]:
                return view
