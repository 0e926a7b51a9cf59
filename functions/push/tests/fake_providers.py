"""Local FCM, APNs and HMS that check what the real services check, over real sockets.

The fakes restate the services' rules (scope, grant type, header names, limits) rather than
importing the clients' constants, so a wrong constant in a client fails against its fake.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imfaas.functions.push.tests.fake_push_server import Answer, ScriptedFake


async def _form(request: Request) -> dict[str, str] | None:
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        return None
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _retry_after(answer: Answer) -> dict[str, str] | None:
    return {"retry-after": answer.retry_after} if answer.retry_after else None


@dataclass(kw_only=True)
class OAuthFake(ScriptedFake):
    """A fake with an OAuth 2.0 token endpoint beside its send endpoint."""

    token_ttl_s: int = 3600
    token_path: ClassVar[str]
    send_path: ClassVar[str]
    grant_type: ClassVar[str]

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint."""
        return f"{self.url}{self.token_path}"

    def app(self) -> Starlette:
        """POST ``token_path`` (form encoded) and POST ``send_path``."""
        return Starlette(
            routes=[
                Route(self.token_path, self._grant, methods=["POST"]),
                Route(self.send_path, self._send, methods=["POST"]),
            ]
        )

    def refuse_grant(self, form: dict[str, str]) -> Response | None:
        """The error answer to a token request of the right grant type, or None to issue."""
        raise NotImplementedError

    async def _send(self, request: Request) -> Response:
        raise NotImplementedError

    async def _grant(self, request: Request) -> Response:
        form = await _form(request)
        if form is None or form.get("grant_type") != self.grant_type:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if refusal := self.refuse_grant(form):
            return refusal
        token = self.issue_access_token(self.token_ttl_s)
        body = {"access_token": token, "expires_in": self.token_ttl_s, "token_type": "Bearer"}
        return JSONResponse(body)


# --- FCM HTTP v1 --------------------------------------------------------------------------

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_FCM_MESSAGE_FIELDS = {
    "name", "data", "notification", "android", "webpush", "apns", "fcm_options",
    "token", "topic", "condition",
}  # fmt: skip
_FCM_ANSWERS = {
    "invalid_token": (
        400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "too_many": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded."),
    "server_error": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}  # fmt: skip


def _fcm_error(
    status: int,
    status_name: str,
    message: str,
    *,
    error_code: str | None = None,
    bad_field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    details: list[dict[str, Any]] = []
    if error_code:
        details.append({"@type": _FCM_ERROR, "errorCode": error_code})
    if bad_field:
        violation = {"field": bad_field, "description": message}
        details.append({"@type": _BAD_REQUEST, "fieldViolations": [violation]})
    error = {"code": status, "message": message, "status": status_name, "details": details}
    return JSONResponse({"error": error}, status, headers=headers)


def fcm_message_problem(body: Any) -> tuple[str, str] | None:
    """(field, description) of the first thing FCM would refuse in a send body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return "message", "message is required"
    if unknown := set(body) - {"validate_only", "message"}:
        return min(unknown), f'Invalid JSON payload received. Unknown name "{min(unknown)}"'
    message = body["message"]
    if unknown := set(message) - _FCM_MESSAGE_FIELDS:
        return f"message.{min(unknown)}", f'Unknown name "{min(unknown)}"'
    targets = [key for key in ("token", "topic", "condition") if key in message]
    if targets != ["token"] or not isinstance(message["token"], str) or not message["token"]:
        return "message.token", "exactly one target, a non-empty token, is required here"
    data = message.get("data", {})
    if not isinstance(data, dict):
        return "message.data", "data must be a map"
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            where = f"message.data[{index}].value"
            return where, f"Invalid value at '{where}' (TYPE_STRING), {value}"
        if key in ("from", "message_type") or key.startswith(("google", "gcm")):
            return f"message.data[{index}].key", f"Invalid data key {key}"
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or set(notification) - {"title", "body", "image"}:
        return "message.notification", "notification has only title, body and image"
    if not all(isinstance(value, str) for value in notification.values()):
        return "message.notification", "notification values are strings"
    android = message.get("android", {})
    priority = android.get("priority", "normal") if isinstance(android, dict) else None
    if not isinstance(priority, str) or priority.lower() not in ("normal", "high"):
        return "message.android.priority", "priority is normal or high"
    if len(json.dumps([data, notification], ensure_ascii=False).encode()) > 4096:
        return "message", "Message is too big"
    return None


@dataclass(kw_only=True)
class FakeFcm(OAuthFake):
    """Google's OAuth token endpoint for one service account, and FCM's ``messages:send``."""

    project_id: str
    client_email: str
    public_key_pem: str
    # The claims of every JWT grant accepted, in order.
    grants: list[dict[str, Any]] = field(default_factory=list)
    token_path: ClassVar[str] = "/token"
    send_path: ClassVar[str] = "/v1/projects/{project}/messages:send"
    grant_type: ClassVar[str] = JWT_BEARER_GRANT

    def service_account(self, private_key_pem: str) -> dict[str, str]:
        """A service-account key file's fields for this fake, signed with ``private_key_pem``."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "fake-key-1",
            "private_key": private_key_pem,
            "client_email": self.client_email,
            "token_uri": self.token_url,
        }

    def refuse_grant(self, form: dict[str, str]) -> Response | None:
        """Google's checks of a JWT grant: signature, issuer, audience, lifetime, scope."""
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key_pem,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_email,
                # Time is checked below, on the fake's clock.
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            return JSONResponse({"error": "invalid_grant", "error_description": str(exc)}, 400)
        now = self.clock()
        iat, exp = claims["iat"], claims["exp"]
        if not (iat - 60 <= now < exp and exp - iat <= 3600):
            description = "Invalid JWT: Token must be a short-lived token (60 minutes)"
            return JSONResponse({"error": "invalid_grant", "error_description": description}, 400)
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return JSONResponse({"error": "invalid_scope"}, 400)
        self.grants.append(claims)
        return None

    async def _send(self, request: Request) -> Response:
        self.send_calls += 1
        token = _bearer(request)
        if not self.access_token_live(token):
            return _fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
        if request.path_params["project"] != self.project_id:
            return _fcm_error(403, "PERMISSION_DENIED", "Permission denied on the project.")
        body = await _json(request)
        if problem := fcm_message_problem(body):
            return _fcm_error(400, "INVALID_ARGUMENT", problem[1], bad_field=problem[0])
        device = body["message"]["token"]
        answer = self.next_answer(device)
        if not await self.hold(answer):
            return _fcm_error(503, "UNAVAILABLE", "Stopping.")
        if answer.kind == "auth_expired":
            assert token is not None
            self.revoke(token)
            return _fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
        if answer.kind in _FCM_ANSWERS:
            status, status_name, code, text = _FCM_ANSWERS[answer.kind]
            headers = _retry_after(answer)
            return _fcm_error(status, status_name, text, error_code=code, headers=headers)
        self.accept(device, request.headers, body)
        return JSONResponse({"name": f"projects/{self.project_id}/messages/{len(self.accepted)}"})


# --- APNs provider API --------------------------------------------------------------------

_APNS_PUSH_TYPES = {
    "alert", "background", "voip", "complication", "fileprovider", "mdm", "location",
    "liveactivity", "pushtotalk", "widgets", "controls",
}  # fmt: skip
_APNS_ANSWERS = {
    "invalid_token": (400, "BadDeviceToken"),
    "unregistered": (410, "Unregistered"),
    "too_many": (429, "TooManyRequests"),
    "server_error": (500, "InternalServerError"),
    "unavailable": (503, "ServiceUnavailable"),
    "auth_expired": (403, "ExpiredProviderToken"),
}
_DEVICE_TOKEN = re.compile(r"[0-9a-fA-F]{64}")


def _apns_error(
    status: int, reason: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"reason": reason, **extra}, status, headers=headers)


def apns_header_problem(headers: Any, bundle_id: str) -> str | None:
    """The reason APNs gives for the first bad request header, or None."""
    topic = headers.get("apns-topic")
    if topic is None:
        return "MissingTopic"
    if topic != bundle_id:
        return "DeviceTokenNotForTopic"
    if headers.get("apns-push-type") not in _APNS_PUSH_TYPES:
        return "InvalidPushType"
    if headers.get("apns-priority", "10") not in ("1", "5", "10"):
        return "BadPriority"
    if not headers.get("apns-expiration", "0").isdigit():
        return "BadExpirationDate"
    try:
        uuid.UUID(headers.get("apns-id", str(uuid.UUID(int=0))))
    except ValueError:
        return "BadMessageId"
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        return "BadCollapseId"
    return None


@dataclass(kw_only=True)
class FakeApns(ScriptedFake):
    """APNs for one team and app: provider-token auth, HTTP/2 only, Apple's limits."""

    team_id: str
    bundle_id: str
    # Key id → public key PEM of each .p8 key the team registered.
    signing_keys: dict[str, str]
    # (host, port) of each client connection a request came over.
    connections: set[tuple[str, int]] = field(default_factory=set)
    _refused: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        """POST /3/device/{token}."""
        return Starlette(routes=[Route("/3/device/{token}", self._send, methods=["POST"])])

    def provider_token_problem(self, request: Request) -> str | None:
        """The 403 reason for the request's provider token, or None if APNs would take it."""
        token = _bearer(request)
        if token is None:
            return "MissingProviderToken"
        try:
            header = jwt.get_unverified_header(token)
            public_key = self.signing_keys[header.get("kid", "")]
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except (jwt.InvalidTokenError, KeyError):
            return "InvalidProviderToken"
        if claims["iss"] != self.team_id:
            return "InvalidProviderToken"
        if token in self._refused or self.clock() - claims["iat"] > 3600:
            return "ExpiredProviderToken"
        if token not in self.access_tokens:
            self.access_tokens.append(token)
        return None

    async def _send(self, request: Request) -> Response:
        self.send_calls += 1
        client = request.scope["client"]
        self.connections.add((client[0], client[1]))
        # Read before any early answer: Hypercorn's HTTP/2 fails on DATA for a closed stream.
        raw = await request.body()
        if request.scope["http_version"] != "2":
            # Not one of Apple's reasons: APNs speaks nothing but HTTP/2.
            return _apns_error(505, "HTTP2Required")
        if reason := self.provider_token_problem(request):
            return _apns_error(403, reason)
        if reason := apns_header_problem(request.headers, self.bundle_id):
            return _apns_error(400, reason)
        device = request.path_params["token"]
        if not _DEVICE_TOKEN.fullmatch(device):
            return _apns_error(400, "BadDeviceToken")
        if not raw:
            return _apns_error(400, "PayloadEmpty")
        if len(raw) > 4096:
            return _apns_error(413, "PayloadTooLarge")
        payload = await _json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return _apns_error(400, "BadPayload")  # the fake's own reason
        answer = self.next_answer(device)
        if not await self.hold(answer):
            return _apns_error(503, "Shutdown")
        if answer.kind == "auth_expired":
            self._refused.add(_bearer(request) or "")
        if answer.kind in _APNS_ANSWERS:
            status, reason = _APNS_ANSWERS[answer.kind]
            extra = {"timestamp": int(self.clock() * 1000)} if status == 410 else {}
            return _apns_error(status, reason, _retry_after(answer), **extra)
        self.accept(device, request.headers, payload)
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4())
        return Response(status_code=200, headers={"apns-id": apns_id})


# --- HMS Push Kit -------------------------------------------------------------------------

_HMS_ANSWERS = {
    "invalid_token": (400, "80300007", "All the tokens are invalid"),
    "too_many": (503, "", ""),
    "server_error": (500, "81000001", "System inner error"),
    "unavailable": (503, "", ""),
    "auth_expired": (401, "80200003", "OAuth token expired"),
}


def _hms(status: int, code: str, msg: str, headers: dict[str, str] | None = None) -> Response:
    if not code:
        # Flow control comes from the gateway, without a Push Kit body.
        return Response(status_code=status, headers=headers)
    body = {"code": code, "msg": msg, "requestId": uuid.uuid4().hex}
    return JSONResponse(body, status, headers=headers)


def hms_message_problem(body: Any) -> str | None:
    """Why Push Kit would refuse a send body (its result code 80100003 or 80300008), or None."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return "80100003"
    if not isinstance(body.get("validate_only", False), bool):
        return "80100003"
    message = body["message"]
    if [key for key in ("token", "topic", "condition") if key in message] != ["token"]:
        return "80100003"
    tokens = message["token"]
    if not isinstance(tokens, list) or not 1 <= len(tokens) <= 1000:
        return "80100003"
    if not all(isinstance(token, str) and token for token in tokens):
        return "80100003"
    if not isinstance(message.get("data", ""), str):
        return "80100003"
    android = message.get("android", {})
    notification = android.get("notification") if isinstance(android, dict) else None
    if notification is not None and not _hms_notification_ok(notification):
        return "80100003"
    without_tokens = {**message, "token": []}
    if len(json.dumps(without_tokens, ensure_ascii=False).encode()) > 4096:
        return "80300008"
    return None


def _hms_notification_ok(notification: Any) -> bool:
    if not isinstance(notification, dict):
        return False
    if not all(isinstance(notification.get(key), str) for key in ("title", "body")):
        return False
    click = notification.get("click_action")
    if not isinstance(click, dict) or click.get("type") not in (1, 2, 3, 4):
        return False
    # Type 1 (open a page of the app) needs the intent or the action to open.
    return click["type"] != 1 or bool(click.get("intent") or click.get("action"))


@dataclass(kw_only=True)
class FakeHms(OAuthFake):
    """HUAWEI's OAuth client-credentials endpoint for one app, and Push Kit's v1 send."""

    app_id: str
    client_secret: str
    token_path: ClassVar[str] = "/oauth2/v3/token"
    send_path: ClassVar[str] = "/v1/{app_id}/messages:send"
    grant_type: ClassVar[str] = "client_credentials"

    def refuse_grant(self, form: dict[str, str]) -> Response | None:
        """The client id and secret must be this app's."""
        if (form.get("client_id"), form.get("client_secret")) != (self.app_id, self.client_secret):
            return JSONResponse({"error": "invalid_client"}, 401)
        return None

    async def _send(self, request: Request) -> Response:
        self.send_calls += 1
        token = _bearer(request)
        if token is None:
            return _hms(401, "80200001", "Oauth authentication error")
        if not self.access_token_live(token):
            return _hms(401, "80200003", "OAuth token expired")
        if request.path_params["app_id"] != self.app_id:
            # The token belongs to another app than the one in the path.
            return _hms(401, "80200001", "Oauth authentication error")
        body = await _json(request)
        if code := hms_message_problem(body):
            return _hms(400, code, "Illegal message")
        device = body["message"]["token"][0]
        answer = self.next_answer(device)
        if not await self.hold(answer):
            return _hms(503, "", "")
        if answer.kind == "auth_expired":
            self.revoke(token)
        if answer.kind == "unregistered":
            failed = {"success": 0, "failure": 1, "illegal_tokens": [device]}
            return _hms(200, "80100000", json.dumps(failed))
        if answer.kind in _HMS_ANSWERS:
            status, code, msg = _HMS_ANSWERS[answer.kind]
            return _hms(status, code, msg, _retry_after(answer))
        self.accept(device, request.headers, body)
        return _hms(200, "80000000", "Success")
