"""Every CloudEvent type imfaas emits or accepts: ``io.imfaas.<area>.<what>.v1``."""

from __future__ import annotations

PREFIX = "io.imfaas."

# A client frame forwarded by the gateway: ``io.imfaas.client.<frame type>.v1``.
CLIENT_PREFIX = "io.imfaas.client."
# HTTP API requests forwarded by the gateway to the login function.
HTTP_REGISTER = "io.imfaas.http.register.v1"
HTTP_LOGIN = "io.imfaas.http.login.v1"
HTTP_TOKEN_REFRESH = "io.imfaas.http.token_refresh.v1"
HTTP_LOGOUT = "io.imfaas.http.logout.v1"
HTTP_TYPES = (HTTP_REGISTER, HTTP_LOGIN, HTTP_TOKEN_REFRESH, HTTP_LOGOUT)

# Replies from functions to the gateway.
REPLY = "io.imfaas.reply.v1"  # data: one server frame for the requesting socket
HTTP_RESPONSE = "io.imfaas.http.response.v1"  # data: {"status", "body", "headers"?}

# Events between functions (Kafka topics in production).
MESSAGE_SUBMITTED = "io.imfaas.message.submitted.v1"
MESSAGE_STORED = "io.imfaas.message.stored.v1"
PUSH_REQUESTED = "io.imfaas.push.requested.v1"
# The push pipeline's own stages (one function, three topics): one user's notification to
# plan (keyed by user), one device's notification to send (keyed by user), and the dead
# letters (after the retry budget, or a permanent rejection).
PUSH_TASK = "io.imfaas.push.task.v1"
PUSH_JOB = "io.imfaas.push.job.v1"
PUSH_DEAD = "io.imfaas.push.dead.v1"
SESSION_REVOKED = "io.imfaas.session.revoked.v1"
# A server frame for every online device of some users (friend, group, receipt, recall and
# edit events): fanout delivers it, nothing stores it.
USERS_NOTIFIED = "io.imfaas.users.notified.v1"

# A socket came up (after auth.ok) or went down: the gateway invokes the presence function.
SOCKET_PRESENCE = "io.imfaas.socket.presence.v1"

# Frames from functions to one gateway node.
GATEWAY_DELIVERY = "io.imfaas.gateway.delivery.v1"

# CloudEvent extension attributes the gateway sets on forwarded frames.
EXT_USER = "imuser"
EXT_DEVICE = "imdevice"
EXT_SESSION = "imsession"
EXT_PLATFORM = "implatform"
EXT_NODE = "imnode"
EXT_CONN = "imconn"
EXT_WS_URL = "imwsurl"
# The client's IP on forwarded HTTP requests (login throttling counts failures per address).
EXT_CLIENT_IP = "imclientip"
EXT_TRACEPARENT = "traceparent"

# Kafka topics, one per internal event type (the name is the type without prefix/version).
TOPICS = {
    MESSAGE_SUBMITTED: "imfaas.message.submitted",
    MESSAGE_STORED: "imfaas.message.stored",
    PUSH_REQUESTED: "imfaas.push.requested",
    PUSH_TASK: "imfaas.push.task",
    PUSH_JOB: "imfaas.push.job",
    PUSH_DEAD: "imfaas.push.dead",
    SESSION_REVOKED: "imfaas.session.revoked",
    USERS_NOTIFIED: "imfaas.users.notified",
}


def client_type(frame_type: str) -> str:
    """The CloudEvent type of a forwarded client frame."""
    return f"{CLIENT_PREFIX}{frame_type}.v1"


def frame_type_of(event_type: str) -> str | None:
    """The client frame type inside a ``io.imfaas.client.*`` event type, else None."""
    if event_type.startswith(CLIENT_PREFIX) and event_type.endswith(".v1"):
        return event_type[len(CLIENT_PREFIX) : -len(".v1")]
    return None
