"""The gateway tells the presence function of routed and unrouted sockets, best effort."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.schema_registry import conforms
from imfaas.gateway.presence_announcer import PresenceAnnouncer
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.ports.route_table import Route

ROUTE = Route("alice", "phone-1", "gw-1", "c17", "ios")


class RecordingInvoker:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, CloudEvent]] = []
        self.fail = fail

    async def invoke(self, function: str, event: CloudEvent) -> CloudEvent | None:
        self.calls.append((function, event))
        if self.fail:
            raise BackendUnavailable("presence down")
        return None


async def test_up_and_down_reach_the_presence_function() -> None:
    invoker = RecordingInvoker()
    announcer = PresenceAnnouncer(invoker, enabled=True)

    announcer.announce(ROUTE, up=True)
    announcer.announce(ROUTE, up=False)
    await announcer.drain()

    assert [function for function, _ in invoker.calls] == ["presence", "presence"]
    states = []
    for _, event in invoker.calls:
        data = event.get_data()
        assert event["type"] == catalog.SOCKET_PRESENCE
        assert conforms("events/socket.presence.json", data)
        assert (data["user"], data["node"], data["conn"]) == ("alice", "gw-1", "c17")
        states.append(data["state"])
    assert sorted(states) == ["down", "up"]


async def test_nothing_is_sent_without_a_presence_function() -> None:
    invoker = RecordingInvoker()
    announcer = PresenceAnnouncer(invoker, enabled=False)

    announcer.announce(ROUTE, up=True)
    await announcer.drain()

    assert invoker.calls == []


async def test_a_failing_presence_function_is_only_logged(caplog) -> None:
    announcer = PresenceAnnouncer(RecordingInvoker(fail=True), enabled=True)

    announcer.announce(ROUTE, up=True)
    await announcer.drain()

    assert "presence not announced" in caplog.text
