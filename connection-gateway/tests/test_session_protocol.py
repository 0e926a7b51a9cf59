"""The sans-I/O session core: auth first, limits, error frames, timeouts, ping. No sockets."""

from __future__ import annotations

import json

import pytest

from imfaas.gateway.frame_rate_limits import FrameRate, FrameRateLimits
from imfaas.gateway.session_protocol import (
    CLOSE_AUTH,
    CLOSE_IDLE,
    CLOSE_RATE,
    CLOSE_TOO_BIG,
    Authenticate,
    CloseSocket,
    Forward,
    SendFrame,
    SessionLimits,
    SessionProtocol,
    State,
)

ROUTABLE = {"msg.send", "sync", "msg.history", "conv.list"}
LIMITS = SessionLimits(
    max_frame_bytes=1024, auth_timeout_s=10.0, idle_timeout_s=60.0, max_pending_while_auth=4
)


def text(frame: object) -> str:
    """A frame as a client sends it: JSON in UTF-8, non-ASCII characters unescaped."""
    return json.dumps(frame, ensure_ascii=False)


def new_session(limits: SessionLimits = LIMITS, now: float = 0.0) -> SessionProtocol:
    return SessionProtocol(limits, lambda frame_type: frame_type in ROUTABLE, now)


def open_session(limits: SessionLimits = LIMITS, now: float = 0.0) -> SessionProtocol:
    """A session that has authenticated at ``now``."""
    session = new_session(limits, now)
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), now)
    session.auth_succeeded("u1", "d1", "a1", now)
    assert session.state is State.OPEN
    return session


def unauthorized(request_id: str | None = None) -> dict[str, object]:
    """Fields every auth rejection carries (the message is free text)."""
    frame: dict[str, object] = {"type": "error", "code": "unauthorized"}
    if request_id is not None:
        frame["id"] = request_id
    return frame


def assert_rejected_auth(actions, request_id: str | None) -> None:
    assert len(actions) == 2
    send, close = actions
    assert isinstance(send, SendFrame)
    assert {k: v for k, v in send.frame.items() if k != "message"} == unauthorized(request_id)
    assert isinstance(send.frame["message"], str) and send.frame["message"]
    assert isinstance(close, CloseSocket)
    assert close.code == CLOSE_AUTH


def assert_bad_request(actions, request_id: str | None) -> None:
    assert len(actions) == 1
    assert isinstance(actions[0], SendFrame)
    frame = actions[0].frame
    assert frame["type"] == "error"
    assert frame["code"] == "bad_request"
    assert isinstance(frame["message"], str) and frame["message"]
    if request_id is None:
        assert "id" not in frame
    else:
        assert frame["id"] == request_id


# -- before auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "request_id"),
    [
        (text({"type": "ping", "id": "p1"}), "p1"),
        (text({"type": "msg.send", "id": "m1", "content": {}}), "m1"),
        (text({"type": "auth.ok", "id": "x"}), "x"),
        (text({"id": "no-type"}), "no-type"),
        (text({"type": "auth", "token": "tok"}), None),  # no id
        (text({"type": "auth", "id": 7, "token": "tok"}), None),
        (text({"type": "auth", "id": "", "token": "tok"}), None),
        ("not json", None),
        (text(["auth"]), None),
        (text("auth"), None),
        ("", None),
    ],
)
def test_first_frame_other_than_auth_is_unauthorized_and_closes_4401(data, request_id):
    session = new_session()

    actions = session.receive_text(data, 1.0)

    assert_rejected_auth(actions, request_id)
    assert session.state is State.CLOSED


def test_binary_first_frame_is_unauthorized_and_closes_4401():
    session = new_session()

    actions = session.receive_binary(10, 1.0)

    assert_rejected_auth(actions, None)
    assert session.state is State.CLOSED


def test_auth_frame_asks_to_authenticate_the_token():
    session = new_session()

    actions = session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)

    assert actions == [Authenticate("a1", "tok")]
    assert session.state is State.AUTHENTICATING


def test_auth_frame_without_token_is_still_checked_by_the_verifier():
    session = new_session()

    assert session.receive_text(text({"type": "auth", "id": "a1"}), 1.0) == [
        Authenticate("a1", None)
    ]


def test_auth_succeeded_sends_auth_ok_and_opens_the_session():
    session = new_session()
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)

    actions = session.auth_succeeded("u1", "d1", "a1", 2.0)

    assert actions == [
        SendFrame({"type": "auth.ok", "id": "a1", "user_id": "u1", "device_id": "d1"})
    ]
    assert session.state is State.OPEN
    assert (session.user_id, session.device_id) == ("u1", "d1")


def test_frames_received_while_authenticating_are_replayed_in_order_after_auth_ok():
    session = new_session()
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)
    send = {"type": "msg.send", "id": "m1", "to": "u2"}
    waiting = [
        text({"type": "ping", "id": "p1"}),
        text(send),
        "garbage",
        text({"type": "sync", "id": "s1", "cursors": {}}),
    ]

    assert [session.receive_text(data, 1.5) for data in waiting] == [[], [], [], []]
    actions = session.auth_succeeded("u1", "d1", "a1", 2.0)

    assert actions[0] == SendFrame(
        {"type": "auth.ok", "id": "a1", "user_id": "u1", "device_id": "d1"}
    )
    assert actions[1] == SendFrame({"type": "pong", "id": "p1"})
    assert actions[2] == Forward(send)
    assert_bad_request([actions[3]], None)
    assert actions[4] == Forward({"type": "sync", "id": "s1", "cursors": {}})
    assert len(actions) == 5


def test_too_many_frames_while_authenticating_close_the_socket():
    session = new_session()
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)
    for n in range(LIMITS.max_pending_while_auth):
        assert session.receive_text(text({"type": "ping", "id": f"p{n}"}), 1.0) == []

    actions = session.receive_text(text({"type": "ping", "id": "one-too-many"}), 1.0)

    assert len(actions) == 1
    assert isinstance(actions[0], CloseSocket)
    assert actions[0].code == CLOSE_RATE
    assert session.state is State.CLOSED


def test_auth_failed_sends_unauthorized_with_the_id_and_closes_4401():
    session = new_session()
    session.receive_text(text({"type": "auth", "id": "a1", "token": "bad"}), 1.0)
    session.receive_text(text({"type": "ping", "id": "p1"}), 1.0)

    actions = session.auth_failed("a1", "token expired")

    assert_rejected_auth(actions, "a1")
    assert session.state is State.CLOSED
    # Frames queued behind the failed auth are dropped, not replayed.
    assert session.auth_succeeded("u1", "d1", "a1", 2.0) == []


def test_auth_succeeded_outside_authenticating_does_nothing():
    session = new_session()

    assert session.auth_succeeded("u1", "d1", "a1", 1.0) == []
    assert session.state is State.AWAIT_AUTH


def test_auth_timeout_while_waiting_for_the_auth_frame_closes_4401():
    session = new_session(now=100.0)

    assert session.tick(110.0) == []
    actions = session.tick(110.5)

    assert_rejected_auth(actions, None)
    assert session.state is State.CLOSED


def test_auth_timeout_while_the_token_is_being_checked_closes_4401():
    session = new_session(now=0.0)
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 9.0)

    assert session.tick(9.9) == []
    assert_rejected_auth(session.tick(10.1), "a1")
    assert session.auth_succeeded("u1", "d1", "a1", 10.2) == []


def test_auth_timeout_while_checking_replies_to_the_auth_request_by_its_id():
    # Protocol section 2: every request gets exactly one reply with its id; the auth frame
    # is a request, so the error that ends it must carry "a1".
    session = new_session(now=0.0)
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)

    assert_rejected_auth(session.tick(10.5), "a1")


def test_activity_before_auth_does_not_extend_the_auth_timeout():
    session = new_session(now=0.0)
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)
    session.receive_text(text({"type": "ping", "id": "p1"}), 9.5)

    assert_rejected_auth(session.tick(10.5), "a1")


# -- idle --------------------------------------------------------------------------------


def test_open_session_is_not_closed_by_the_auth_timeout():
    session = open_session(now=0.0)

    assert session.tick(30.0) == []
    assert session.state is State.OPEN


def test_idle_closes_4408_only_after_idle_timeout_since_last_activity():
    session = open_session(now=0.0)
    session.receive_text(text({"type": "ping", "id": "p1"}), 50.0)

    assert session.tick(60.5) == []
    assert session.tick(110.0) == []
    actions = session.tick(110.5)

    assert len(actions) == 1
    assert isinstance(actions[0], CloseSocket)
    assert actions[0].code == CLOSE_IDLE
    assert session.state is State.CLOSED


def test_idle_is_counted_from_auth_ok():
    session = new_session(now=0.0)
    session.receive_text(text({"type": "auth", "id": "a1", "token": "tok"}), 1.0)
    session.auth_succeeded("u1", "d1", "a1", 5.0)

    assert session.tick(64.9) == []
    assert [a.code for a in session.tick(65.1)] == [CLOSE_IDLE]
    assert session.state is State.CLOSED


def test_websocket_ping_resets_idle():
    session = open_session(now=0.0)

    session.receive_ping(50.0)

    assert session.tick(100.0) == []
    assert [a.code for a in session.tick(111.0)] == [CLOSE_IDLE]


def test_any_frame_resets_idle():
    session = open_session(now=0.0)
    session.receive_text("garbage", 40.0)
    session.receive_binary(3, 80.0)

    assert session.tick(139.0) == []
    assert [a.code for a in session.tick(141.0)] == [CLOSE_IDLE]


# -- after auth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "request_id"),
    [
        ("not json", None),
        ("{", None),
        (text([{"type": "ping", "id": "p1"}]), None),
        (text(None), None),
        (text(42), None),
        (text({"type": "ping"}), None),  # missing id
        (text({"type": "ping", "id": ""}), None),
        (text({"type": "ping", "id": 5}), None),
        (text({"type": "ping", "id": "x" * 129}), None),
        (text({"id": "m1"}), "m1"),  # missing type
        (text({"id": "m2", "type": ""}), "m2"),
        (text({"id": "m3", "type": 7}), "m3"),
        (text({"id": "m4", "type": "no.such.type"}), "m4"),
        (text({"id": "m5", "type": "pong"}), "m5"),
    ],
)
def test_malformed_frames_after_auth_get_bad_request_and_the_session_stays_open(data, request_id):
    session = open_session()

    actions = session.receive_text(data, 1.0)

    assert_bad_request(actions, request_id)
    assert session.state is State.OPEN
    assert session.receive_text(text({"type": "ping", "id": "after"}), 2.0) == [
        SendFrame({"type": "pong", "id": "after"})
    ]


def test_ping_gets_pong_with_its_id():
    session = open_session()

    assert session.receive_text(text({"type": "ping", "id": "p-42"}), 1.0) == [
        SendFrame({"type": "pong", "id": "p-42"})
    ]


def test_longest_id_is_accepted():
    session = open_session()
    long_id = "x" * 128

    assert session.receive_text(text({"type": "ping", "id": long_id}), 1.0) == [
        SendFrame({"type": "pong", "id": long_id})
    ]


@pytest.mark.parametrize("frame_type", sorted(ROUTABLE))
def test_routable_types_are_forwarded_as_received(frame_type):
    session = open_session()
    frame = {"type": frame_type, "id": "r1", "extra": {"nested": [1, "é"]}}

    assert session.receive_text(text(frame), 1.0) == [Forward(frame)]


def test_second_auth_is_bad_request_and_keeps_the_session():
    session = open_session()

    actions = session.receive_text(text({"type": "auth", "id": "a2", "token": "tok"}), 1.0)

    assert_bad_request(actions, "a2")
    assert session.state is State.OPEN
    assert session.user_id == "u1"


def test_binary_frame_after_auth_is_bad_request_and_keeps_the_session():
    session = open_session()

    actions = session.receive_binary(10, 1.0)

    assert_bad_request(actions, None)
    assert session.state is State.OPEN


# -- size --------------------------------------------------------------------------------


def padded_ping(size_bytes: int, char: str = "a") -> str:
    """A ping frame of exactly ``size_bytes`` UTF-8 bytes, padded mostly with ``char``."""
    room = size_bytes - len(text({"type": "ping", "id": "p1", "pad": ""}).encode())
    width = len(char.encode())
    pad = char * (room // width) + "a" * (room % width)
    data = text({"type": "ping", "id": "p1", "pad": pad})
    assert len(data.encode()) == size_bytes
    return data


def test_frame_exactly_at_the_limit_is_accepted():
    session = open_session()

    assert session.receive_text(padded_ping(1024), 1.0) == [SendFrame({"type": "pong", "id": "p1"})]


def test_frame_over_the_limit_in_chars_closes_1009():
    session = open_session()

    actions = session.receive_text(padded_ping(1025), 1.0)

    assert [type(a) for a in actions] == [CloseSocket]
    assert actions[0].code == CLOSE_TOO_BIG
    assert session.state is State.CLOSED


def test_frame_over_the_limit_in_utf8_bytes_only_closes_1009():
    session = open_session()
    data = padded_ping(1025, "é")
    assert len(data) < 1024 < len(data.encode())

    actions = session.receive_text(data, 1.0)

    assert len(actions) == 1
    assert isinstance(actions[0], CloseSocket)
    assert actions[0].code == CLOSE_TOO_BIG


def test_multibyte_frame_within_the_byte_limit_is_accepted():
    session = open_session()

    data = padded_ping(1024, "😀")
    assert len(data) < 1024 // 3

    assert session.receive_text(data, 1.0) == [SendFrame({"type": "pong", "id": "p1"})]


def test_oversize_frame_before_auth_closes_1009():
    session = new_session()

    actions = session.receive_text(padded_ping(2000), 1.0)

    assert [type(a) for a in actions] == [CloseSocket]
    assert actions[0].code == CLOSE_TOO_BIG


def test_oversize_binary_frame_closes_1009():
    session = open_session()

    actions = session.receive_binary(1025, 1.0)

    assert [type(a) for a in actions] == [CloseSocket]
    assert actions[0].code == CLOSE_TOO_BIG


# -- closed ------------------------------------------------------------------------------


def closed_sessions():
    by_auth_failure = new_session()
    by_auth_failure.receive_text("garbage", 1.0)
    by_socket = open_session()
    by_socket.closed()
    by_idle = open_session()
    by_idle.tick(1000.0)
    return [by_auth_failure, by_socket, by_idle]


@pytest.mark.parametrize("session", closed_sessions(), ids=["auth-failure", "socket", "idle"])
def test_after_close_input_yields_no_actions(session):
    assert session.state is State.CLOSED
    assert session.receive_text(text({"type": "ping", "id": "p1"}), 2000.0) == []
    assert session.receive_text(text({"type": "auth", "id": "a1", "token": "t"}), 2000.0) == []
    assert session.receive_binary(10, 2000.0) == []
    assert session.receive_binary(10**6, 2000.0) == []
    assert session.auth_succeeded("u1", "d1", "a1", 2000.0) == []
    assert session.auth_failed("a1", "nope") == []
    assert session.tick(5000.0) == []
    assert session.state is State.CLOSED


# -- rate limit (the gateway's own; protocol §5 rate_limited and close 4429) ----------------


def rate_limited_session(rate: float, burst: int, max_refusals: int = 3) -> SessionProtocol:
    limits = SessionLimits(rate_per_s=rate, rate_burst=burst, max_refusals=max_refusals)
    session = SessionProtocol(limits, lambda t: t == "sync", 0.0)
    session.receive_text(text({"type": "auth", "id": "a", "token": "t"}), 0.0)
    session.auth_succeeded("u1", "d1", "a", 0.0)
    return session


def test_a_burst_beyond_the_bucket_gets_rate_limited_with_the_request_id():
    session = rate_limited_session(rate=1.0, burst=3)
    for i in range(3):
        assert session.receive_text(text({"type": "ping", "id": f"p{i}"}), 0.0) == [
            SendFrame({"type": "pong", "id": f"p{i}"})
        ]
    [refused] = session.receive_text(text({"type": "sync", "id": "s"}), 0.0)
    assert isinstance(refused, SendFrame)
    assert (refused.frame["code"], refused.frame["id"]) == ("rate_limited", "s")
    assert session.state is State.OPEN


def test_the_bucket_refills_with_time():
    session = rate_limited_session(rate=2.0, burst=1)
    assert isinstance(session.receive_text(text({"type": "sync", "id": "1"}), 0.0)[0], Forward)
    refused = session.receive_text(text({"type": "sync", "id": "2"}), 0.1)[0]
    assert refused.frame["code"] == "rate_limited"
    assert isinstance(session.receive_text(text({"type": "sync", "id": "3"}), 0.7)[0], Forward)


def test_a_socket_that_ignores_rate_limits_is_closed_4429():
    session = rate_limited_session(rate=0.001, burst=1, max_refusals=3)
    session.receive_text(text({"type": "ping", "id": "ok"}), 0.0)
    for i in range(3):
        [refused] = session.receive_text(text({"type": "ping", "id": f"x{i}"}), 0.0)
        assert refused.frame["code"] == "rate_limited"
    assert session.receive_text(text({"type": "ping", "id": "last"}), 0.0) == [
        CloseSocket(4429, "rate limited")
    ]
    assert session.state is State.CLOSED


# -- found by the property tests ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "request_id"),
    [
        ("[" * 100_000, None),  # deeper than the stack: json raises RecursionError
        ('{"a":' * 100_000, None),
        ('{"type": "ping", "id": "p", "n": NaN}', None),  # NaN and Infinity are not JSON
        ('{"type": "ping", "id": "p", "n": -Infinity}', None),
        ('{"type": "ping", "id": "p", "n": 1e400}', None),  # would come back as Infinity
        ('{"type": "ping", "id": "p", "n": ' + "9" * 5000 + "}", None),
        ('{"type": "ping", "id": "\\ud800"}', None),  # a lone surrogate cannot be echoed
        ('{"type": "msg.send", "id": "m", "to": "\\udc00x"}', "m"),
        ('{"type": "ping", "id": "p", "\\uDBFF": 1}', "p"),
        ('{"type": "ping", "id": "p", "raw": "\ud800"}', "p"),
    ],
)
def test_frames_json_cannot_carry_get_bad_request_and_the_session_stays_open(data, request_id):
    session = open_session(SessionLimits(max_frame_bytes=1 << 20))

    assert_bad_request(session.receive_text(data, 1.0), request_id)
    assert session.state is State.OPEN


def test_a_surrogate_pair_escape_is_one_character_and_is_accepted():
    session = open_session()

    assert session.receive_text('{"type": "ping", "id": "\\ud83d\\ude00"}', 1.0) == [
        SendFrame({"type": "pong", "id": "😀"})
    ]


def test_lone_surrogates_over_the_size_limit_close_1009():
    session = open_session()

    assert [a.code for a in session.receive_text("\ud800" * 400, 1.0)] == [CLOSE_TOO_BIG]


# -- per-user, per-type limits (shared by a user's sessions) and garbage floods -------------


def limited_session(
    frame_limits: FrameRateLimits, user: str = "u1", max_refusals: int = 3
) -> SessionProtocol:
    limits = SessionLimits(max_refusals=max_refusals)
    session = SessionProtocol(limits, lambda t: t in ROUTABLE, 0.0, frame_limits)
    session.receive_text(text({"type": "auth", "id": "a", "token": "t"}), 0.0)
    session.auth_succeeded(user, "d1", "a", 0.0)
    return session


def send(session: SessionProtocol, frame_type: str, request_id: str, now: float = 0.0):
    return session.receive_text(text({"type": frame_type, "id": request_id}), now)


def test_a_type_over_its_rate_is_refused_with_the_id_and_other_types_pass():
    session = limited_session(FrameRateLimits({"msg.send": FrameRate(0.01, 2)}))
    assert [type(send(session, "msg.send", f"m{i}")[0]) for i in range(2)] == [Forward] * 2

    [refused] = send(session, "msg.send", "m2")
    assert isinstance(refused, SendFrame)
    assert (refused.frame["code"], refused.frame["id"]) == ("rate_limited", "m2")
    assert isinstance(send(session, "sync", "s")[0], Forward)
    assert send(session, "ping", "p") == [SendFrame({"type": "pong", "id": "p"})]
    assert session.state is State.OPEN


def test_a_users_sockets_share_the_budget_and_other_users_have_their_own():
    shared = FrameRateLimits({"msg.send": FrameRate(0.01, 2)})
    phone, laptop = limited_session(shared, "u1"), limited_session(shared, "u1")
    other = limited_session(shared, "u2")

    assert isinstance(send(phone, "msg.send", "1")[0], Forward)
    assert isinstance(send(laptop, "msg.send", "2")[0], Forward)
    assert send(laptop, "msg.send", "3")[0].frame["code"] == "rate_limited"
    assert send(phone, "msg.send", "4")[0].frame["code"] == "rate_limited"
    assert isinstance(send(other, "msg.send", "5")[0], Forward)


def test_the_type_budget_refills_with_time():
    session = limited_session(FrameRateLimits({"sync": FrameRate(2.0, 1)}))

    assert isinstance(send(session, "sync", "1", 0.0)[0], Forward)
    assert send(session, "sync", "2", 0.1)[0].frame["code"] == "rate_limited"
    assert isinstance(send(session, "sync", "3", 0.6)[0], Forward)


def test_a_socket_that_keeps_sending_a_refused_type_is_closed_4429():
    session = limited_session(FrameRateLimits({"msg.send": FrameRate(0.001, 1)}), max_refusals=3)
    send(session, "msg.send", "ok")
    for i in range(3):
        assert send(session, "msg.send", f"x{i}")[0].frame["code"] == "rate_limited"

    assert send(session, "msg.send", "last") == [CloseSocket(CLOSE_RATE, "rate limited")]
    assert session.state is State.CLOSED


def test_an_accepted_frame_resets_the_refusal_count():
    session = limited_session(FrameRateLimits({"msg.send": FrameRate(0.001, 1)}), max_refusals=2)
    send(session, "msg.send", "ok")
    for round_ in range(5):
        for i in range(2):
            assert send(session, "msg.send", f"x{round_}{i}")[0].frame["code"] == "rate_limited"
        assert send(session, "ping", f"p{round_}")[0].frame["type"] == "pong"
    assert session.state is State.OPEN


@pytest.mark.parametrize("garbage", ["not json", "[1]", '{"type": "ping"}', '{"id": "g"}'])
def test_a_flood_of_bad_frames_spends_the_socket_budget_then_closes_4429(garbage):
    session = rate_limited_session(rate=0.001, burst=2, max_refusals=3)
    for _ in range(2):
        assert session.receive_text(garbage, 0.0)[0].frame["code"] == "bad_request"
    for _ in range(3):
        assert session.receive_text(garbage, 0.0)[0].frame["code"] == "rate_limited"

    assert session.receive_text(garbage, 0.0) == [CloseSocket(CLOSE_RATE, "rate limited")]


def test_bad_frames_leave_less_budget_for_good_ones():
    session = rate_limited_session(rate=0.001, burst=3)
    session.receive_text("not json", 0.0)
    session.receive_text("not json", 0.0)
    assert isinstance(session.receive_text(text({"type": "sync", "id": "s1"}), 0.0)[0], Forward)

    [refused] = session.receive_text(text({"type": "sync", "id": "s2"}), 0.0)
    assert (refused.frame["code"], refused.frame["id"]) == ("rate_limited", "s2")


def test_a_refused_bad_frame_names_its_id_when_it_can_be_read():
    session = rate_limited_session(rate=0.001, burst=1)
    session.receive_text(text({"type": "ping", "id": "p"}), 0.0)

    [refused] = session.receive_text(text({"id": "g", "type": 7}), 0.0)
    assert (refused.frame["code"], refused.frame["id"]) == ("rate_limited", "g")
