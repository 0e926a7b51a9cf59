"""Property tests of the sans-I/O session core: any input gets exactly the protocol's answer,
never an exception, and a session's state only moves forward."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from imfaas.events.schema_strategies import deep_nesting, fuzz_settings, hostile_values
from imfaas.gateway.session_protocol import (
    CLOSE_AUTH,
    CLOSE_RATE,
    CLOSE_TOO_BIG,
    MAX_ID_LEN,
    Authenticate,
    CloseSocket,
    Forward,
    SendFrame,
    SessionLimits,
    SessionProtocol,
    State,
)

ROUTABLE = {"msg.send", "sync", "msg.history", "conv.list"}
LIMIT = 2048
LIMITS = SessionLimits(max_frame_bytes=LIMIT, rate_per_s=50.0, rate_burst=20, max_refusals=5)
# Every code point, lone surrogates included: the core must survive any str.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)
TYPES = st.sampled_from([*sorted(ROUTABLE), "ping", "auth", "pong", "msg.new", "x", ""])
IDS = st.one_of(st.text(max_size=MAX_ID_LEN + 2), st.integers(), st.none(), st.just("\ud800"))


def frame_texts() -> st.SearchStrategy[str]:
    """Client frames: well-formed, malformed, non-JSON, JSON that Python reads oddly."""
    frames = st.fixed_dictionaries(
        {}, optional={"type": TYPES, "id": IDS, "token": hostile_values(3), "x": hostile_values()}
    )
    as_json = st.one_of(frames, hostile_values(), deep_nesting()).map(
        lambda v: json.dumps(v, ensure_ascii=False)
    )
    # Deeper than json.dumps could write: built as text.
    deep = st.builds(
        lambda n, pair: pair[0] * n + "1" + pair[1] * n,
        st.integers(500, 20_000),
        st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"type":"ping","id":"p","x":[', "]}")]),
    )
    literals = st.sampled_from(
        [
            "NaN",
            '{"type": "ping", "id": "p", "n": Infinity}',
            '{"type": "ping", "id": "p", "n": 1e400}',
            '{"type": "ping", "id": "p", "n": ' + "9" * 5000 + "}",
            '{"type": "ping", "id": "\\ud800"}',
            '{"type": "ping", "id": "\\ud83d\\ude00"}',
            "[" * 100_000,
            '{"a":' * 50_000,
        ]
    )
    return st.one_of(as_json, deep, literals, ANY_TEXT)


def session(state: str = "open") -> SessionProtocol:
    proto = SessionProtocol(LIMITS, lambda t: t in ROUTABLE, 0.0)
    if state == "open":
        proto.receive_text('{"type": "auth", "id": "a", "token": "t"}', 0.0)
        proto.auth_succeeded("u1", "d1", "a", 0.0)
    return proto


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def well_formed(text: str) -> dict[str, Any] | None:
    """The frame if the protocol calls it well-formed (an object with string type and id)."""
    try:
        frame = json.loads(text)
        json.dumps(frame, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError):
        return None
    if not isinstance(frame, dict):
        return None
    frame_id, frame_type = frame.get("id"), frame.get("type")
    if isinstance(frame_id, str) and 0 < len(frame_id) <= MAX_ID_LEN:
        if isinstance(frame_type, str) and frame_type:
            return frame
    return None


def parsed_object(text: str) -> dict[str, Any]:
    """The object the text holds if it is JSON (no NaN, no Infinity, nothing past float)."""
    try:
        value = json.loads(text, parse_constant=_not_json)
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _not_json(name: str) -> None:
    raise ValueError(name)


def readable_id(text: str) -> str | None:
    """The id an error may echo: a string of 1..128 characters that UTF-8 can carry."""
    frame_id = parsed_object(text).get("id")
    if not isinstance(frame_id, str) or not 0 < len(frame_id) <= MAX_ID_LEN:
        return None
    try:
        frame_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return frame_id


def closes(actions: list[Any]) -> list[int]:
    return [a.code for a in actions if isinstance(a, CloseSocket)]


@fuzz_settings(300)
@given(text=frame_texts())
def test_the_first_frame_is_checked_as_auth_or_refused_with_4401(text):
    proto = session("new")

    actions = proto.receive_text(text, 1.0)

    frame = well_formed(text)
    if utf8_size(text) > LIMIT:
        assert closes(actions) == [CLOSE_TOO_BIG]
    elif frame is not None and frame["type"] == "auth":
        assert actions == [Authenticate(frame["id"], frame.get("token"))]
        assert proto.state is State.AUTHENTICATING
    else:
        send, close = actions
        assert isinstance(send, SendFrame) and send.frame["code"] == "unauthorized"
        assert send.frame.get("id") == readable_id(text)
        assert close == CloseSocket(CLOSE_AUTH, close.reason)
    if closes(actions):
        assert proto.state is State.CLOSED


@fuzz_settings(400)
@given(text=frame_texts())
def test_after_auth_every_frame_gets_exactly_one_protocol_answer(text):
    proto = session("open")

    actions = proto.receive_text(text, 1.0)

    frame = well_formed(text)
    (action,) = actions
    if utf8_size(text) > LIMIT:
        assert action == CloseSocket(CLOSE_TOO_BIG, action.reason)
        return
    assert proto.state is State.OPEN
    if frame is None:
        assert isinstance(action, SendFrame)
        assert action.frame["type"] == "error" and action.frame["code"] == "bad_request"
        assert action.frame.get("id") == readable_id(text)
    elif frame["type"] == "ping":
        assert action == SendFrame({"type": "pong", "id": frame["id"]})
    elif frame["type"] in ROUTABLE:
        assert action == Forward(frame)
    else:
        assert isinstance(action, SendFrame)
        assert (action.frame["code"], action.frame["id"]) == ("bad_request", frame["id"])
    if isinstance(action, SendFrame):
        json.dumps(action.frame, ensure_ascii=False, allow_nan=False).encode("utf-8")


@fuzz_settings(100)
@given(
    extra=st.integers(1, 3 * LIMIT), char=st.sampled_from("aé😀\ud800"), before_auth=st.booleans()
)
def test_a_frame_over_the_size_limit_always_closes_1009(extra, char, before_auth):
    proto = session("new" if before_auth else "open")
    text = char * ((LIMIT + extra) // utf8_size(char) + 1)

    assert proto.receive_text(text, 1.0) == [CloseSocket(CLOSE_TOO_BIG, "frame too large")]
    assert proto.state is State.CLOSED


@fuzz_settings(100)
@given(texts=st.lists(frame_texts(), max_size=5), sizes=st.lists(st.integers(0, 10**6)))
def test_nothing_comes_out_of_a_closed_session(texts, sizes):
    proto = session("open")
    proto.closed()

    assert [proto.receive_text(t, 2.0) for t in texts] == [[] for _ in texts]
    assert [proto.receive_binary(n, 2.0) for n in sizes] == [[] for _ in sizes]
    assert proto.auth_failed("a", "x") == proto.auth_unavailable("a") == proto.tick(10**6) == []


LEGAL_MOVES = {
    State.AWAIT_AUTH: {State.AWAIT_AUTH, State.AUTHENTICATING, State.CLOSED},
    State.AUTHENTICATING: {State.AUTHENTICATING, State.OPEN, State.CLOSED},
    State.OPEN: {State.OPEN, State.CLOSED},
    State.CLOSED: {State.CLOSED},
}


class SessionMachine(RuleBasedStateMachine):
    """Mixed input in any order: states only move forward, a socket is closed at most once,
    every close comes with a protocol close code, and a closed session says nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.proto = SessionProtocol(LIMITS, lambda t: t in ROUTABLE, self.now)
        self.previous = self.proto.state
        self.close_codes: list[int] = []
        self.auth_id: str | None = None

    def apply(self, actions: list[Any]) -> None:
        was = self.previous
        if was is State.CLOSED:
            assert actions == []
        codes = closes(actions)
        self.close_codes.extend(codes)
        assert len(self.close_codes) <= 1, self.close_codes
        assert all(c in (CLOSE_AUTH, CLOSE_TOO_BIG, CLOSE_RATE, 4408, 1013) for c in codes)
        if codes:
            assert isinstance(actions[-1], CloseSocket)  # nothing is sent after the close
            assert self.proto.state is State.CLOSED
        for action in actions:
            if isinstance(action, Authenticate):
                self.auth_id = action.request_id
        assert self.proto.state in LEGAL_MOVES[was], (was, self.proto.state)
        self.previous = self.proto.state

    @rule(text=frame_texts(), dt=st.floats(0, 2))
    def text(self, text: str, dt: float) -> None:
        self.now += dt
        self.apply(self.proto.receive_text(text, self.now))

    @rule(size=st.integers(0, 2 * LIMIT))
    def binary(self, size: int) -> None:
        self.apply(self.proto.receive_binary(size, self.now))

    @rule()
    def auth(self) -> None:
        self.apply(self.proto.receive_text('{"type":"auth","id":"a","token":"t"}', self.now))

    @rule()
    def ping(self) -> None:
        self.apply(self.proto.receive_text('{"type":"ping","id":"p"}', self.now))

    @precondition(lambda self: self.auth_id is not None)
    @rule(ok=st.booleans())
    def auth_result(self, ok: bool) -> None:
        assert self.auth_id is not None
        if ok:
            self.apply(self.proto.auth_succeeded("u1", "d1", self.auth_id, self.now))
        else:
            self.apply(self.proto.auth_failed(self.auth_id, "bad token"))

    @rule()
    def auth_unavailable(self) -> None:
        self.apply(self.proto.auth_unavailable("a"))

    @rule(dt=st.floats(0, 100))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.apply(self.proto.tick(self.now))

    @rule()
    def socket_gone(self) -> None:
        self.proto.closed()
        self.previous = self.proto.state

    @invariant()
    def user_is_known_exactly_when_authenticated(self) -> None:
        if self.proto.state is State.OPEN:
            assert (self.proto.user_id, self.proto.device_id) == ("u1", "d1")
        if self.proto.state in (State.AWAIT_AUTH, State.AUTHENTICATING):
            assert self.proto.user_id is None


SessionMachine.TestCase.settings = settings(fuzz_settings(150), stateful_step_count=30)
test_session_state_machine = SessionMachine.TestCase
