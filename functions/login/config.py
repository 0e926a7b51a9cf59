"""The login function's settings: the shared sections it reads, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imfaas.functions.login.login_throttle import ThrottlePolicy
from imfaas.functions.login.seat_policy import SeatPolicy
from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class LoginConfig:
    """Token lifetimes, signing key, password-hash cost, login throttling and device seats."""

    private_key_file: Path
    kid: str
    issuer: str
    audience: str
    access_ttl_s: int
    refresh_ttl_s: int
    argon2_time_cost: int
    argon2_memory_kib: int
    public_ws_url: str
    per_user_throttle: ThrottlePolicy
    per_ip_throttle: ThrottlePolicy
    seats: SeatPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginConfig:
        """Pick this function's values; the key defaults to the data dir's dev key."""
        key_file = settings.jwt_private_key_file or str(
            settings.data_dir / "keys" / f"{settings.jwt_kid}.private.pem"
        )
        return cls(
            private_key_file=Path(key_file),
            kid=settings.jwt_kid,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            argon2_time_cost=settings.argon2_time_cost,
            argon2_memory_kib=settings.argon2_memory_kib,
            public_ws_url=settings.public_ws_url,
            per_user_throttle=_throttle(settings, settings.login_user_free_failures),
            per_ip_throttle=_throttle(settings, settings.login_ip_free_failures),
            seats=SeatPolicy(settings.device_seats, settings.platform_seats),
        )


def _throttle(settings: Settings, free_failures: int) -> ThrottlePolicy:
    return ThrottlePolicy(
        window_s=settings.login_failure_window_s,
        free_failures=free_failures,
        lock_base_s=settings.login_lock_base_s,
        lock_max_s=settings.login_lock_max_s,
    )
