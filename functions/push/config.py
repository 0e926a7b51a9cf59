"""The push function's settings: limits, the retry budget, and each provider's credentials."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from imfaas.functions.push.providers.apns_client import ApnsSettings
from imfaas.functions.push.providers.fcm_client import FcmSettings, ServiceAccount
from imfaas.functions.push.providers.hms_client import HmsSettings
from imfaas.functions.push.providers.retry_policy import RetryPolicy
from imfaas.shared.settings import Settings, SettingsError


@dataclass(frozen=True, slots=True)
class PushConfig:
    """Read once at start; a provider whose credentials are not set is None (off)."""

    user_per_minute: int
    app_per_second: int
    retry: RetryPolicy
    fcm: FcmSettings | None
    apns: ApnsSettings | None
    hms: HmsSettings | None
    ca_file: str

    @classmethod
    def from_settings(cls, settings: Settings) -> PushConfig:
        """Pick this function's values; ``SettingsError`` for half-set credentials."""
        return cls(
            user_per_minute=settings.push_user_per_minute,
            app_per_second=settings.push_app_per_second,
            retry=RetryPolicy(
                base_delay_s=settings.push_retry_base_s,
                max_delay_s=settings.push_retry_max_s,
                max_attempts=settings.push_max_attempts,
            ),
            fcm=_fcm(settings),
            apns=_apns(settings),
            hms=_hms(settings),
            ca_file=settings.push_ca_file,
        )

    def tls(self) -> ssl.SSLContext | bool:
        """What the provider clients verify against: the system CAs, plus ``ca_file``."""
        if not self.ca_file:
            return True
        context = ssl.create_default_context()
        context.load_verify_locations(self.ca_file)
        return context


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise SettingsError(f"{what}: cannot read {path}: {exc.strerror}") from exc


def _fcm(s: Settings) -> FcmSettings | None:
    if not s.push_fcm_service_account_file:
        return None
    try:
        account = ServiceAccount.from_json(
            _read(s.push_fcm_service_account_file, "push_fcm_service_account_file")
        )
    except ValueError as exc:
        raise SettingsError(f"push_fcm_service_account_file: {exc}") from exc
    return FcmSettings(
        account,
        base_url=s.push_fcm_base_url,
        token_uri=s.push_fcm_token_uri or None,
        timeout_s=s.push_timeout_s,
    )


def _apns(s: Settings) -> ApnsSettings | None:
    if not s.push_apns_key_file:
        return None
    missing = [
        name
        for name in ("push_apns_key_id", "push_apns_team_id", "push_apns_bundle_id")
        if not getattr(s, name)
    ]
    if missing:
        raise SettingsError(f"push_apns_key_file is set but not {', '.join(missing)}")
    return ApnsSettings(
        team_id=s.push_apns_team_id,
        key_id=s.push_apns_key_id,
        private_key=_read(s.push_apns_key_file, "push_apns_key_file"),
        bundle_id=s.push_apns_bundle_id,
        use_sandbox=s.push_apns_sandbox,
        base_url=s.push_apns_base_url or None,
        timeout_s=s.push_timeout_s,
    )


def _hms(s: Settings) -> HmsSettings | None:
    if not s.push_hms_app_id:
        return None
    if not s.push_hms_client_secret:
        raise SettingsError("push_hms_app_id is set but not push_hms_client_secret")
    return HmsSettings(
        app_id=s.push_hms_app_id,
        client_secret=s.push_hms_client_secret,
        base_url=s.push_hms_base_url,
        token_url=s.push_hms_token_url,
        timeout_s=s.push_timeout_s,
    )
