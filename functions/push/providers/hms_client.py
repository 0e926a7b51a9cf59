"""HUAWEI Push Kit: OAuth 2.0 client credentials and the v1 ``messages:send`` API."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from imfaas.functions.push.providers.oauth_token_cache import IssuedToken, request_oauth_token
from imfaas.functions.push.providers.provider_exchange import (
    ProviderClient,
    json_object,
    retry_after_s,
)
from imfaas.functions.push.providers.push_payload import PushNotification, PushOutcome

HMS_PUSH_URL = "https://push-api.cloud.huawei.com"
HMS_TOKEN_URL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"

# Service result codes of the send API, from HUAWEI's "下行消息" (downlink message) reference,
# developer.huawei.com/consumer/cn/doc/HMSCore-References/https-send-api-0000001050986197.
HMS_SUCCESS = "80000000"
# Sent to some tokens; msg holds {"success", "failure", "illegal_tokens": [...]}.
HMS_PARTIAL_SUCCESS = "80100000"
HMS_ALL_TOKENS_INVALID = "80300007"
# 80200001 "authentication error" (missing, unknown or another app's token) and 80200003
# "access token expired": both are cured by a new token, if by anything.
HMS_AUTH_CODES = ("80200001", "80200003")
HMS_INTERNAL_ERROR = "81000001"
# ClickAction type 3 opens the app; type 1 opens the intent given in settings.
_OPEN_APP = 3
_OPEN_INTENT = 1


@dataclass(frozen=True, slots=True)
class HmsSettings:
    """The app's OAuth client and how its notifications open; the URLs change only for a fake."""

    # The OAuth 2.0 client id (the app id in AppGallery Connect), also in the send URL.
    app_id: str
    client_secret: str
    base_url: str = HMS_PUSH_URL
    token_url: str = HMS_TOKEN_URL
    timeout_s: float = 10.0
    # None: a tap opens the app; else the intent URI a tap opens.
    click_intent: str | None = None
    # HMS sets a badge only with the app's launcher Activity class; None: no badge.
    badge_class: str | None = None


def hms_message(notification: PushNotification, settings: HmsSettings) -> dict[str, Any]:
    """The ``messages:send`` body for one token; data is a JSON string of strings, as on FCM."""
    click: dict[str, Any] = (
        {"type": _OPEN_INTENT, "intent": settings.click_intent}
        if settings.click_intent
        else {"type": _OPEN_APP}
    )
    android_notification: dict[str, Any] = {
        "title": notification.display_title(),
        "body": notification.display_body(),
        "click_action": click,
    }
    # HMS's collapse_key is a number from 1 to 100 for offline caching; the notification tag
    # is the string key under which a newer notification replaces the shown one.
    if notification.collapse_key is not None:
        android_notification["tag"] = notification.collapse_key
    if notification.badge is not None and settings.badge_class:
        android_notification["badge"] = {
            "set_num": notification.badge,
            "class": settings.badge_class,
        }
    data = {"conversation": notification.conversation, "seq": str(notification.seq)}
    return {
        "validate_only": False,
        "message": {
            "token": [notification.device_token],
            "data": json.dumps(data),
            "android": {"notification": android_notification},
        },
    }


def hms_outcome(response: httpx.Response, now: float) -> PushOutcome:
    """Map an answer by its result code first (HMS sends codes with 200 and with 4xx)."""
    status = response.status_code
    body = json_object(response)
    code = str(body.get("code") or f"http_{status}")
    if code == HMS_SUCCESS:
        request_id = body.get("requestId")
        return PushOutcome.delivered(status, request_id if isinstance(request_id, str) else None)
    # One token per request, so "some tokens failed" means this one did.
    if code in (HMS_ALL_TOKENS_INVALID, HMS_PARTIAL_SUCCESS):
        return PushOutcome.invalid_token(code, status)
    if code == HMS_INTERNAL_ERROR or status == 429 or status >= 500:
        # 503 is HMS's flow control.
        return PushOutcome.retry(code, status, retry_after_s(response, now))
    return PushOutcome.rejected(code, status)


def _auth_expired(response: httpx.Response) -> bool:
    return response.status_code == 401 or json_object(response).get("code") in HMS_AUTH_CODES


class HmsClient(ProviderClient):
    """A ``PushProvider`` for HMS Push Kit: client-credentials token, cached, → messages:send."""

    def __init__(
        self,
        settings: HmsSettings,
        *,
        clock: Callable[[], float] = time.time,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._settings = settings
        self._send_url = f"{settings.base_url.rstrip('/')}/v1/{settings.app_id}/messages:send"
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_s), verify=verify)
        super().__init__(http, self._fetch_token, _auth_expired, clock=clock)

    async def _send(self, notification: PushNotification) -> PushOutcome:
        message = hms_message(notification, self._settings)
        response = await self._post_json(self._send_url, message)
        return hms_outcome(response, self._clock())

    async def _fetch_token(self) -> IssuedToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.app_id,
            "client_secret": self._settings.client_secret,
        }
        return await request_oauth_token(self._http, self._settings.token_url, form)
