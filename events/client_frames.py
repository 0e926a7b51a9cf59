"""The CloudEvent that carries one client frame from the gateway to a function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.trace_context import new_traceparent


@dataclass(frozen=True, slots=True)
class SocketIdentity:
    """Who is on a socket (from the verified token) and where the socket lives."""

    user_id: str
    device_id: str
    session_id: str
    platform: str
    node_id: str
    conn_id: str


def client_frame_event(frame: dict[str, Any], who: SocketIdentity) -> CloudEvent:
    """``io.imfaas.client.<type>.v1`` with the frame as data and the socket as extensions."""
    return new_event(
        catalog.client_type(frame["type"]),
        f"/imfaas/gateway/{who.node_id}",
        frame,
        {
            catalog.EXT_USER: who.user_id,
            catalog.EXT_DEVICE: who.device_id,
            catalog.EXT_SESSION: who.session_id,
            catalog.EXT_PLATFORM: who.platform,
            catalog.EXT_NODE: who.node_id,
            catalog.EXT_CONN: who.conn_id,
            catalog.EXT_TRACEPARENT: new_traceparent(),
        },
        subject=who.user_id,
    )
