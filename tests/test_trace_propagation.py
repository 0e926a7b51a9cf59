"""One message keeps one trace id from the gateway through send, store and fanout (issue 6).

The real functions run on test ports; each hop goes through the wrapper its runtime uses:
the gateway's ``InProcessInvoker`` into send, a Kafka record and the functions-framework
entry into store and fanout, and fanout's HTTP delivery to a gateway node.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from cloudevents.http import CloudEvent

from imfaas.events import catalog, trace_context
from imfaas.events.client_frames import client_frame_event
from imfaas.events.codec import decode_http, new_event
from imfaas.functions.fanout.handler import create_function as create_fanout
from imfaas.functions.send.handler import create_function as create_send
from imfaas.functions.store.handler import create_function as create_store
from imfaas.gateway.function_invoker import InProcessInvoker
from imfaas.shared.adapters.delivery_http import HttpDelivery
from imfaas.shared.adapters.event_bus_kafka import decode_record, encode_record
from imfaas.shared.function_http import http_entry
from imfaas.shared.ports.route_table import Route
from imfaas.shared.ports.user_directory import UserRecord
from imfaas.shared.testing import identity, port_sets, post_event

ALICE = identity("ua", "da1", "conn-a1", node_id="gw-1")


def through_kafka(event: CloudEvent, key: str) -> CloudEvent:
    """The event as a consumer reads it back from its binary-mode Kafka record."""
    record_key, value, headers = encode_record(event, key)
    assert ("ce_traceparent", event[catalog.EXT_TRACEPARENT].encode()) in headers
    return decode_record(record_key, value, headers)


async def test_one_message_keeps_the_gateways_trace_id_through_every_hop(tmp_path):
    delivered: list[CloudEvent] = []

    async def node(request: web.Request) -> web.Response:
        delivered.append(decode_http(dict(request.headers), await request.read()))
        return web.json_response({"sent": 1}, status=202)

    app = web.Application()
    app.router.add_post("/deliver/{node}", node)
    async with TestServer(app) as server, port_sets(tmp_path) as new_ports:
        env = await new_ports()
        for user in ("ua", "ub"):
            await env.ports.users.create_user(UserRecord(user, "name-" + user, "x", 0))
        # Alice is online on gw-1 (her ack goes there); Bob is offline (a push candidate).
        await env.ports.routes.add(Route("ua", "da1", "gw-1", "conn-a1", "web"), 60)
        delivery = HttpDelivery(
            env.ports.nodes,
            f"http://{server.host}:{server.port}/deliver/{{node}}",
            "t",
            timeout_s=5,
        )
        env.ports.delivery_ = delivery
        send = create_send(env.settings, env.ports)
        store = http_entry(lambda: create_store(env.settings, env.ports))
        fanout = http_entry(lambda: create_fanout(env.settings, env.ports))
        try:
            frame = {"type": "msg.send", "id": "r1", "to": "ub", "client_msg_id": "cm-1"}
            frame["content"] = {"kind": "text", "text": "hello"}
            from_gateway = InProcessInvoker({"send": send})
            assert trace_context.current() is None  # as in the gateway's socket task
            request = client_frame_event(frame, ALICE)
            assert await from_gateway.invoke("send", request) is None

            (submitted,) = env.bus.of_type(catalog.MESSAGE_SUBMITTED)
            assert (await post_event(store, through_kafka(submitted, "d:ua:ub"))).status_code == 202
            (stored,) = env.bus.of_type(catalog.MESSAGE_STORED)
            assert (await post_event(fanout, through_kafka(stored, "d:ua:ub"))).status_code == 202
        finally:
            await delivery.close()

    (pushed,) = env.bus.of_type(catalog.PUSH_REQUESTED)
    (to_gateway,) = delivered
    assert to_gateway.get_data()["items"][0]["frame"]["type"] == "msg.ack"
    hops = [request, submitted, stored, pushed, to_gateway]
    parents = [event[catalog.EXT_TRACEPARENT] for event in hops]
    assert all(trace_context.is_traceparent(p) for p in parents)
    assert {trace_context.trace_id(p) for p in parents} == {
        trace_context.trace_id(request[catalog.EXT_TRACEPARENT])
    }
    assert len({trace_context.span_id(p) for p in parents}) == len(hops)


def test_an_event_created_while_handling_carries_a_child_of_the_handled_trace():
    parent = trace_context.new_traceparent()
    handled = new_event("io.imfaas.test.v1", "/t", {}, {catalog.EXT_TRACEPARENT: parent})
    with trace_context.handling(handled):
        child = new_event("io.imfaas.test.v1", "/t", {})
        chosen = new_event("io.imfaas.test.v1", "/t", {}, {catalog.EXT_TRACEPARENT: parent})
    after = new_event("io.imfaas.test.v1", "/t", {})

    assert trace_context.trace_id(child[catalog.EXT_TRACEPARENT]) == trace_context.trace_id(parent)
    assert child[catalog.EXT_TRACEPARENT] != parent
    assert child[catalog.EXT_TRACEPARENT][-2:] == parent[-2:]  # the sampled flag travels
    assert chosen[catalog.EXT_TRACEPARENT] == parent  # the caller's choice wins
    assert after.get(catalog.EXT_TRACEPARENT) is None  # nothing leaks past the block
    assert trace_context.current() is None


def test_an_event_without_a_usable_traceparent_starts_a_new_trace():
    for given in (None, "", "garbage", "00-" + "0" * 32 + "-" + "1" * 16 + "-01"):
        extensions = {} if given is None else {catalog.EXT_TRACEPARENT: given}
        handled = new_event("io.imfaas.test.v1", "/t", {}, extensions)
        with trace_context.handling(handled):
            current = trace_context.current()
        assert trace_context.is_traceparent(current)
        assert current != given


def test_request_ids_come_from_the_frame_or_the_message_paths_reply_to():
    frame = new_event(catalog.client_type("msg.send"), "/t", {"type": "msg.send", "id": "r9"})
    stored = new_event(catalog.MESSAGE_STORED, "/t", {"reply_to": {"request_id": "r9"}})
    long = new_event(catalog.client_type("msg.send"), "/t", {"id": "x" * 1000})
    seen = []
    for event in (frame, stored, long):
        with trace_context.handling(event):
            seen.append(trace_context.current_request_id())
    assert seen == ["r9", "r9", None]
