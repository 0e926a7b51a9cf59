"""The send function's settings."""

from __future__ import annotations

from dataclasses import dataclass

from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class SendConfig:
    """Content limits."""

    max_text_bytes: int
    max_client_msg_id_len: int
    direct_message_policy: str = "anyone"

    @classmethod
    def from_settings(cls, settings: Settings) -> SendConfig:
        """Pick this function's values."""
        return cls(
            settings.max_text_bytes,
            settings.max_client_msg_id_len,
            settings.direct_message_policy,
        )
