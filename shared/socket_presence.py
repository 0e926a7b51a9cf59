"""The ``socket.presence`` event: a socket was routed (up) or its route removed (down)."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.shared.ports.route_table import Route


def socket_presence_event(route: Route, up: bool, ts_ms: int) -> CloudEvent:
    """The event the gateway sends to the presence function, keyed by the user."""
    data = {
        "user": route.user_id,
        "device": route.device_id,
        "node": route.node_id,
        "conn": route.conn_id,
        "state": "up" if up else "down",
        "ts": ts_ms,
    }
    return new_event(catalog.SOCKET_PRESENCE, "/imfaas/gateway", data, subject=route.user_id)
