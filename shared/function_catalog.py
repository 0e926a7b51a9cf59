"""Every function, the client frames it answers and the events it consumes: one table.

The gateway's frame routes, the embedded runtime's wiring, the local dispatcher's
subscriptions and the local cluster's processes are all read from here, so adding a
function is a folder under ``functions/`` plus one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.events import catalog


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function: its name (``functions/<name>``), the client frame types the gateway
    forwards to it, and the event types delivered to it (in order per partition key)."""

    name: str
    frames: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()

    @property
    def handler_module(self) -> str:
        """The module whose ``create_function(settings, ports)`` builds it."""
        return f"imfaas.functions.{self.name}.handler"


FUNCTIONS: tuple[FunctionSpec, ...] = (
    # The HTTP API (register, login, refresh, logout) goes to login by path, not by frame;
    # push tokens go there too, next to the device sessions whose end drops them.
    FunctionSpec("login", frames=("device.push_token",)),
    FunctionSpec("send", frames=("msg.send",)),
    FunctionSpec("store", consumes=(catalog.MESSAGE_SUBMITTED,)),
    FunctionSpec(
        "history",
        frames=("sync", "msg.history", "conv.list", "msg.read", "msg.recall", "msg.edit"),
    ),
    FunctionSpec(
        "relation",
        frames=(
            "friend.request",
            "friend.accept",
            "friend.remove",
            "friend.list",
            "block",
            "unblock",
        ),
    ),
    FunctionSpec("media", frames=("media.upload_url", "media.download_url")),
    FunctionSpec(
        "group",
        frames=(
            "group.create",
            "group.info",
            "group.members",
            "group.invite",
            "group.leave",
            "group.kick",
            "group.set_role",
            "group.mute",
            "group.transfer",
            "group.dissolve",
            "group.rename",
            "group.settings",
        ),
    ),
    # Ephemeral signals: typing goes straight to fanout, nothing is stored.
    # Presence: the gateway invokes it directly with socket.presence when a socket is
    # routed or unrouted (no topic: a lost one is corrected by the next change).
    FunctionSpec("presence", frames=("typing", "presence.subscribe")),
    # Offline push: three stages of one function, each an event type (a topic) of its own.
    FunctionSpec(
        "push",
        frames=("push.settings", "push.mute"),
        consumes=(catalog.PUSH_REQUESTED, catalog.PUSH_TASK, catalog.PUSH_JOB),
    ),
    FunctionSpec(
        "fanout",
        consumes=(catalog.MESSAGE_STORED, catalog.SESSION_REVOKED, catalog.USERS_NOTIFIED),
    ),
)

FUNCTION_NAMES: tuple[str, ...] = tuple(spec.name for spec in FUNCTIONS)


def frame_routes() -> dict[str, str]:
    """Client frame type → the function that answers it."""
    routes: dict[str, str] = {}
    for spec in FUNCTIONS:
        for frame_type in spec.frames:
            if frame_type in routes:
                raise ValueError(f"{frame_type} is claimed by {routes[frame_type]} and {spec.name}")
            routes[frame_type] = spec.name
    return routes


def dispatch_routes() -> list[tuple[str, str]]:
    """(event type, function) for every subscription: KafkaSources in production."""
    return [(event_type, spec.name) for spec in FUNCTIONS for event_type in spec.consumes]


def spec_of(name: str) -> FunctionSpec:
    """The spec of a function by name; ``KeyError`` if there is none."""
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
