"""What the push function hands a provider, and what comes back (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Shown instead of the text when the recipient turned message previews off.
PREVIEW_OFF_BODY = "New message"
# Every provider caps the payload at 4096 bytes (APNs alert, FCM message, HMS message body).
# Clipping title and body in UTF-8 bytes keeps a long message (or group name) from turning
# into a permanent rejection, with room left for the keys and the conversation id.
MAX_TITLE_BYTES = 256
MAX_BODY_BYTES = 2048
_ELLIPSIS = "…"


def clip_utf8(text: str, max_bytes: int) -> str:
    """``text`` unchanged if it fits in ``max_bytes`` of UTF-8, else cut there and ended by '…'."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(_ELLIPSIS.encode())
    # A cut inside a multi-byte character drops that character's leading bytes.
    return encoded[:room].decode(errors="ignore") + _ELLIPSIS


@dataclass(frozen=True, slots=True)
class PushNotification:
    """One notification for one device token; ``body`` is None when previews are off."""

    device_token: str
    # "fcm", "apns" or "hms": the provider the device registered the token with
    # (the ``provider`` of its ``device.push_token`` frame).
    provider: str
    title: str
    body: str | None
    conversation: str
    seq: int
    # Same key on a retry of the same message: APNs gets an apns-id derived from it.
    idempotency_key: str
    badge: int | None = None
    # Newer notifications with the same key replace older ones still undelivered or shown.
    collapse_key: str | None = None

    def display_title(self) -> str:
        """The title, clipped to fit every provider's payload limit."""
        return clip_utf8(self.title, MAX_TITLE_BYTES)

    def display_body(self) -> str:
        """The body to show: the clipped text, or the placeholder when previews are off."""
        if self.body is None:
            return PREVIEW_OFF_BODY
        return clip_utf8(self.body, MAX_BODY_BYTES)


class OutcomeKind(StrEnum):
    """What the push worker does next with a notification."""

    DELIVERED = "delivered"
    # Try again later (after ``retry_after_s`` when the provider said how long).
    RETRY = "retry"
    # The token will never work again: remove it from the device's registration.
    INVALID_TOKEN = "invalid_token"
    # Permanent and not the token's fault (payload, credentials, permissions): dead letter.
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """The result of one send; ``status_code`` is None when no HTTP answer came back."""

    kind: OutcomeKind
    status_code: int | None = None
    provider_message_id: str | None = None
    retry_after_s: float | None = None
    # The provider's reason ("Unregistered", "80300007", "UNREGISTERED") or "timeout" /
    # "connection" for transport failures; for logs and metrics, never shown to clients.
    reason: str | None = None
    # Wall time of the whole send, access-token fetches and an auth retry included.
    latency_ms: float = 0.0

    @classmethod
    def delivered(cls, status_code: int, message_id: str | None) -> PushOutcome:
        """The provider accepted the notification."""
        return cls(OutcomeKind.DELIVERED, status_code, provider_message_id=message_id)

    @classmethod
    def retry(
        cls, reason: str, status_code: int | None = None, retry_after_s: float | None = None
    ) -> PushOutcome:
        """A transient failure: the same notification may succeed later."""
        return cls(OutcomeKind.RETRY, status_code, retry_after_s=retry_after_s, reason=reason)

    @classmethod
    def invalid_token(cls, reason: str, status_code: int) -> PushOutcome:
        """The device token is gone or malformed: the caller removes it."""
        return cls(OutcomeKind.INVALID_TOKEN, status_code, reason=reason)

    @classmethod
    def rejected(cls, reason: str, status_code: int | None = None) -> PushOutcome:
        """A permanent failure that is not the token's: retrying cannot help."""
        return cls(OutcomeKind.REJECTED, status_code, reason=reason)
