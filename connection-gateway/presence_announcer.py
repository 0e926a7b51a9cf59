"""Tells the presence function when a socket is routed or unrouted (fire and forget)."""

from __future__ import annotations

import asyncio
import logging
import time

from cloudevents.http import CloudEvent

from imfaas.gateway.function_invoker import FunctionInvoker
from imfaas.shared.ports.route_table import Route
from imfaas.shared.socket_presence import socket_presence_event

log = logging.getLogger(__name__)

PRESENCE_FUNCTION = "presence"


class PresenceAnnouncer:
    """Sends ``socket.presence`` without delaying the socket; a lost one is corrected by the
    user's next change (subscribers also read the route table when they subscribe)."""

    def __init__(self, invoker: FunctionInvoker, enabled: bool) -> None:
        self._invoker = invoker
        self._enabled = enabled
        self._pending: set[asyncio.Task[None]] = set()

    def announce(self, route: Route, up: bool) -> None:
        """Queue the event for ``route`` going up (after ``auth.ok``) or down (route removed)."""
        if not self._enabled:
            return
        event = socket_presence_event(route, up, int(time.time() * 1000))
        task = asyncio.create_task(self._send(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, event: CloudEvent) -> None:
        try:
            await self._invoker.invoke(PRESENCE_FUNCTION, event)
        except Exception as exc:  # presence is best effort, never the socket's fault
            log.warning("presence not announced: %s", exc)

    async def drain(self) -> None:
        """Wait for the events in flight (shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
