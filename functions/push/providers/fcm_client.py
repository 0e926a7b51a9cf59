"""Firebase Cloud Messaging through the HTTP v1 API, authorised by a service account."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from imfaas.functions.push.providers.oauth_token_cache import IssuedToken, request_oauth_token
from imfaas.functions.push.providers.provider_exchange import (
    ProviderClient,
    json_object,
    retry_after_s,
)
from imfaas.functions.push.providers.push_payload import PushNotification, PushOutcome

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts a signed grant valid for at most one hour.
GRANT_LIFETIME_S = 3600
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The fields of a service-account key file that FCM needs."""

    project_id: str
    client_email: str
    private_key: str
    token_uri: str
    private_key_id: str | None = None

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        """Read a service-account key file's JSON; ``ValueError`` if a needed field is missing."""
        data = json.loads(text)
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ServiceAccount:
        """The needed fields of a parsed key file; ``ValueError`` if one is missing."""
        needed = ("project_id", "client_email", "private_key", "token_uri")
        missing = [name for name in needed if not data.get(name)]
        if missing:
            raise ValueError(f"service account lacks {', '.join(missing)}")
        return cls(
            str(data["project_id"]),
            str(data["client_email"]),
            str(data["private_key"]),
            str(data["token_uri"]),
            data.get("private_key_id"),
        )


@dataclass(frozen=True, slots=True)
class FcmSettings:
    """Where and as whom the FCM client sends; the URLs change only to point at a fake."""

    service_account: ServiceAccount
    base_url: str = "https://fcm.googleapis.com"
    # None: the service account's token_uri (also the grant's audience).
    token_uri: str | None = None
    # Bounds each phase of a request (connect, write, read, pool wait).
    timeout_s: float = 10.0


def fcm_message(notification: PushNotification) -> dict[str, Any]:
    """The v1 ``messages:send`` body for one notification; every data value is a string."""
    data = {"conversation": notification.conversation, "seq": str(notification.seq)}
    android: dict[str, Any] = {"priority": "high"}
    if notification.collapse_key is not None:
        android["collapse_key"] = notification.collapse_key
    message: dict[str, Any] = {
        "token": notification.device_token,
        "notification": {
            "title": notification.display_title(),
            "body": notification.display_body(),
        },
        "data": data,
        "android": android,
    }
    if notification.badge is not None:
        data["badge"] = str(notification.badge)
        # FCM tokens of iOS apps deliver through APNs, which sets the badge from aps.
        message["apns"] = {"payload": {"aps": {"badge": notification.badge}}}
    return {"message": message}


def fcm_outcome(response: httpx.Response, now: float) -> PushOutcome:
    """Map a v1 API answer (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode)."""
    status = response.status_code
    body = json_object(response)
    if status == 200:
        name = body.get("name")
        return PushOutcome.delivered(status, name if isinstance(name, str) else None)
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = _fcm_error_code(error) or str(error.get("status") or f"http_{status}")
    if code == "UNREGISTERED":
        return PushOutcome.invalid_token(code, status)
    if status == 400 and code == "INVALID_ARGUMENT" and _blames_token(error):
        return PushOutcome.invalid_token("INVALID_ARGUMENT", status)
    if status == 429 or status >= 500:
        return PushOutcome.retry(code, status, retry_after_s(response, now))
    # SENDER_ID_MISMATCH stays here too: with a misconfigured project every token would
    # mismatch, and removing them all is worse than keeping a stale one.
    return PushOutcome.rejected(code, status)


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _fcm_error_code(error: dict[str, Any]) -> str | None:
    for detail in _details(error):
        if detail.get("@type") == _FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            return detail["errorCode"]
    return None


def _blames_token(error: dict[str, Any]) -> bool:
    """INVALID_ARGUMENT names a bad token with an FcmError detail and no other field at fault."""
    fields = [
        violation.get("field")
        for detail in _details(error)
        if detail.get("@type") == _BAD_REQUEST_TYPE
        for violation in detail.get("fieldViolations") or []
        if isinstance(violation, dict)
    ]
    return _fcm_error_code(error) == "INVALID_ARGUMENT" and all(
        field == "message.token" for field in fields
    )


def _auth_expired(response: httpx.Response) -> bool:
    # THIRD_PARTY_AUTH_ERROR is a 401 about the APNs or web-push credentials in the
    # Firebase project: a new access token cannot fix it.
    if response.status_code != 401:
        return False
    error = json_object(response).get("error")
    return not isinstance(error, dict) or _fcm_error_code(error) != "THIRD_PARTY_AUTH_ERROR"


class FcmClient(ProviderClient):
    """A ``PushProvider`` for FCM: signed JWT grant → cached access token → messages:send."""

    def __init__(
        self,
        settings: FcmSettings,
        *,
        clock: Callable[[], float] = time.time,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        account = settings.service_account
        key = load_pem_private_key(account.private_key.encode(), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("the service account's private_key is not an RSA key")
        self._account = account
        self._key = key
        self._token_uri = settings.token_uri or account.token_uri
        base = settings.base_url.rstrip("/")
        self._send_url = f"{base}/v1/projects/{account.project_id}/messages:send"
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_s), verify=verify)
        super().__init__(http, self._fetch_token, _auth_expired, clock=clock)

    async def _send(self, notification: PushNotification) -> PushOutcome:
        response = await self._post_json(self._send_url, fcm_message(notification))
        return fcm_outcome(response, self._clock())

    async def _fetch_token(self) -> IssuedToken:
        now = int(self._clock())
        claims = {
            "iss": self._account.client_email,
            "scope": FCM_SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + GRANT_LIFETIME_S,
        }
        headers = {"kid": self._account.private_key_id} if self._account.private_key_id else None
        assertion = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
        return await request_oauth_token(
            self._http, self._token_uri, {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        )
