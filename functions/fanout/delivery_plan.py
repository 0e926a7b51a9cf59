"""Who gets which frame on which gateway node (pure: routes in, batches out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imfaas.shared.ports.route_table import Route


@dataclass
class DeliveryPlan:
    """Batches per gateway node, plus the members that have no online device."""

    batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    offline: list[str] = field(default_factory=list)

    def add(self, node_id: str, item: dict[str, Any]) -> None:
        """Queue one item for one node."""
        self.batches.setdefault(node_id, []).append(item)


def plan_message(
    message: dict[str, Any],
    members: list[str],
    routes: dict[str, list[Route]],
    reply_to: dict[str, str],
    duplicate: bool,
) -> DeliveryPlan:
    """``msg.ack`` to the sending socket; ``msg.new`` to every other socket of every member.

    A duplicate (a resend) gets its ack again and nothing else, so nobody sees it twice.
    """
    plan = DeliveryPlan()
    ack = {
        "type": "msg.ack",
        "id": reply_to["request_id"],
        "conversation": message["conversation"],
        "seq": message["seq"],
        "msg_id": message["msg_id"],
        "ts": message["ts"],
        "client_msg_id": message["client_msg_id"],
    }
    plan.add(reply_to["node"], {"conn": reply_to["conn"], "frame": ack})
    if duplicate:
        return plan
    new = {"type": "msg.new", "message": message}
    sender = message["sender"]
    for member in members:
        member_routes = routes.get(member, [])
        if not member_routes and member != sender:
            plan.offline.append(member)
        for route in member_routes:
            if route.node_id == reply_to["node"] and route.conn_id == reply_to["conn"]:
                continue
            plan.add(route.node_id, {"conn": route.conn_id, "frame": new})
    return plan


def plan_notification(
    frame: dict[str, Any],
    users: list[str],
    routes: dict[str, list[Route]],
    skip: dict[str, str] | None,
) -> DeliveryPlan:
    """``frame`` to every socket of every user but ``skip`` (the socket that caused it)."""
    plan = DeliveryPlan()
    for user in users:
        for route in routes.get(user, []):
            if skip is not None and (route.node_id, route.conn_id) == (skip["node"], skip["conn"]):
                continue
            plan.add(route.node_id, {"conn": route.conn_id, "frame": frame})
    return plan


def plan_session_close(
    device_id: str, routes: list[Route], close_code: int, reason: str
) -> DeliveryPlan:
    """Close every socket of one device (logout, revoked or displaced session)."""
    plan = DeliveryPlan()
    if close_code == 4409:
        frame = {"type": "kicked", "reason": reason}
    else:
        frame = {"type": "error", "code": "unauthorized", "message": f"session ended: {reason}"}
    for route in routes:
        if route.device_id == device_id:
            plan.add(route.node_id, {"conn": route.conn_id, "close": close_code, "frame": frame})
    return plan
