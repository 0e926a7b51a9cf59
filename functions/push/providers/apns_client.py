"""Apple Push Notification service: the HTTP/2 provider API with token (.p8) authentication."""

from __future__ import annotations

import hashlib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from imfaas.functions.push.providers.oauth_token_cache import IssuedToken
from imfaas.functions.push.providers.provider_exchange import (
    ProviderClient,
    json_object,
    retry_after_s,
)
from imfaas.functions.push.providers.push_payload import PushNotification, PushOutcome

APNS_PRODUCTION_URL = "https://api.push.apple.com"
APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"
# APNs refuses a provider token older than an hour and answers TooManyProviderTokenUpdates
# to one renewed more often than every 20 minutes; 50 minutes sits between the two.
DEFAULT_TOKEN_REFRESH_S = 50 * 60
MAX_COLLAPSE_ID_BYTES = 64
# apns-id is a UUID derived from the idempotency key, so every retry of one notification
# carries the same id (APNs does not deduplicate by it; it ties retries together in logs).
_APNS_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "imfaas:push:apns-id")


@dataclass(frozen=True, slots=True)
class ApnsSettings:
    """The signing key, the app, and which APNs environment to talk to."""

    team_id: str
    key_id: str
    # The .p8 key file's PEM text (an EC P-256 key).
    private_key: str
    # The app's bundle id: the apns-topic of every alert.
    bundle_id: str
    use_sandbox: bool = False
    # Overrides the environment's URL (a fake in tests).
    base_url: str | None = None
    timeout_s: float = 10.0
    # How long APNs keeps a notification for a device that is offline.
    expiration_s: int = 86400
    token_refresh_s: float = DEFAULT_TOKEN_REFRESH_S
    # Lets a notification service extension rewrite the alert (e.g. decrypt it).
    mutable_content: bool = False
    # Apple asks providers to keep connections open rather than reconnect per burst.
    idle_connection_s: float = 600.0

    def endpoint(self) -> str:
        """The base URL: the override, else sandbox or production."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return APNS_SANDBOX_URL if self.use_sandbox else APNS_PRODUCTION_URL


def apns_id(idempotency_key: str) -> str:
    """The apns-id for a notification: the same UUID for the same key."""
    return str(uuid.uuid5(_APNS_ID_NAMESPACE, idempotency_key))


def apns_collapse_id(collapse_key: str) -> str:
    """The key itself if it fits apns-collapse-id's 64 bytes, else its SHA-256 in hex (64 chars)."""
    if len(collapse_key.encode()) <= MAX_COLLAPSE_ID_BYTES:
        return collapse_key
    return hashlib.sha256(collapse_key.encode()).hexdigest()


def apns_payload(notification: PushNotification, mutable_content: bool) -> dict[str, Any]:
    """The JSON body: an alert grouped by conversation, with the conversation and seq beside aps."""
    aps: dict[str, Any] = {
        "alert": {"title": notification.display_title(), "body": notification.display_body()},
        "sound": "default",
        "thread-id": notification.conversation,
    }
    if notification.badge is not None:
        aps["badge"] = notification.badge
    if mutable_content:
        aps["mutable-content"] = 1
    return {"aps": aps, "conversation": notification.conversation, "seq": notification.seq}


def apns_headers(
    notification: PushNotification, settings: ApnsSettings, now: float
) -> dict[str, str]:
    """The request headers of an alert, without authorization."""
    headers = {
        "apns-topic": settings.bundle_id,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int(now) + settings.expiration_s),
        "apns-id": apns_id(notification.idempotency_key),
    }
    if notification.collapse_key is not None:
        headers["apns-collapse-id"] = apns_collapse_id(notification.collapse_key)
    return headers


def apns_outcome(response: httpx.Response, now: float) -> PushOutcome:
    """Map an APNs answer (developer.apple.com: Handling notification responses from APNs)."""
    status = response.status_code
    if status == 200:
        return PushOutcome.delivered(status, response.headers.get("apns-id"))
    reason = json_object(response).get("reason")
    reason = reason if isinstance(reason, str) else f"http_{status}"
    # 410 is Unregistered or ExpiredToken. BadDeviceToken is also what a sandbox token gets
    # from production, so a wrong use_sandbox setting shows up as a wave of removed tokens.
    if status == 410 or reason in ("BadDeviceToken", "DeviceTokenNotForTopic"):
        return PushOutcome.invalid_token(reason, status)
    if status == 429 or status >= 500:
        return PushOutcome.retry(reason, status, retry_after_s(response, now))
    return PushOutcome.rejected(reason, status)


def _provider_token_expired(response: httpx.Response) -> bool:
    return (
        response.status_code == 403
        and json_object(response).get("reason") == "ExpiredProviderToken"
    )


class ApnsClient(ProviderClient):
    """A ``PushProvider`` for APNs: one HTTP/2 connection, one provider token reused for 50 min."""

    def __init__(
        self,
        settings: ApnsSettings,
        *,
        clock: Callable[[], float] = time.time,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        key = load_pem_private_key(settings.private_key.encode(), password=None)
        if not isinstance(key, EllipticCurvePrivateKey):
            raise ValueError("the APNs signing key is not an EC (P-256) key")
        self._settings = settings
        self._key = key
        self._url = f"{settings.endpoint()}/3/device/"
        # HTTP/2 multiplexes concurrent sends as streams on one connection.
        http = httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(settings.timeout_s),
            # One kept connection: after a read time-out httpcore marks the connection broken
            # but keeps it idle in the pool; with a limit of one it is closed at the next send.
            limits=httpx.Limits(
                max_keepalive_connections=1, keepalive_expiry=settings.idle_connection_s
            ),
        )
        # The provider token is signed here, not fetched: it lives token_refresh_s exactly.
        super().__init__(
            http,
            self._sign_token,
            _provider_token_expired,
            clock=clock,
            refresh_margin_s=0.0,
            scheme="bearer",
        )

    async def _send(self, notification: PushNotification) -> PushOutcome:
        response = await self._post_json(
            self._url + notification.device_token,
            apns_payload(notification, self._settings.mutable_content),
            apns_headers(notification, self._settings, self._clock()),
        )
        return apns_outcome(response, self._clock())

    async def _sign_token(self) -> IssuedToken:
        claims = {"iss": self._settings.team_id, "iat": int(self._clock())}
        token = jwt.encode(
            claims, self._key, algorithm="ES256", headers={"kid": self._settings.key_id}
        )
        return IssuedToken(token, self._settings.token_refresh_s)
