"""Frozen settings, read once from the environment (``IMFAAS_*``) at start-up.

Handlers never read ``os.environ``; they receive the objects built from these settings.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from imfaas.shared.function_catalog import FUNCTION_NAMES as FUNCTION_NAMES
from imfaas.shared.function_catalog import frame_routes

# Which function owns each client frame type (from the function catalog). The gateway
# forwards a frame to the function named here; a type missing from this table gets
# ``bad_request``.
DEFAULT_FRAME_ROUTES: dict[str, str] = frame_routes()

# Per-user limits of the request types of protocol §3 and §4: sustained frames per second and
# the burst on top, per gateway node. Types not listed have only the per-socket bucket.
# Bursts cover what real clients do at once: an outbox flushed on reconnect (msg.send), sync
# paging, read marks for every conversation on screen.
DEFAULT_FRAME_RATES: dict[str, tuple[float, int]] = {
    "msg.send": (20.0, 100),
    "sync": (10.0, 50),
    "msg.history": (10.0, 50),
    "conv.list": (5.0, 20),
    "msg.read": (20.0, 100),
    "msg.recall": (5.0, 20),
    "msg.edit": (5.0, 20),
    "typing": (2.0, 5),
    "friend.request": (1.0, 20),
    "friend.accept": (5.0, 20),
    "friend.remove": (5.0, 20),
    "friend.list": (5.0, 20),
    "block": (5.0, 20),
    "unblock": (5.0, 20),
    "group.create": (1.0, 10),
    "group.info": (10.0, 50),
    "group.members": (10.0, 50),
    "group.invite": (5.0, 20),
    "group.leave": (5.0, 20),
    "group.kick": (5.0, 20),
    "group.set_role": (5.0, 20),
    "group.mute": (5.0, 20),
    "group.transfer": (5.0, 20),
    "group.dissolve": (5.0, 20),
    "group.rename": (1.0, 10),
    "group.settings": (1.0, 10),
    "presence.subscribe": (5.0, 20),
    "media.upload_url": (5.0, 20),
    "media.download_url": (20.0, 100),
    "device.push_token": (1.0, 5),
    "push.settings": (1.0, 10),
    "push.mute": (5.0, 20),
}


DEFAULT_MEDIA_MIME_TYPES: tuple[str, ...] = (
    "image/*",
    "video/*",
    "audio/*",
    "text/plain",
    "application/pdf",
    "application/zip",
    "application/octet-stream",
)


# Who may send a direct message: "anyone" (unless one of the two blocks the other) or
# "friends" only. Blocks apply under every policy; groups are not affected.
DIRECT_MESSAGE_POLICIES = ("anyone", "friends")

# Multi-login policy (protocol §4 "Session control"): seats per user and platform class, 0
# meaning any number, and the class of each platform (a platform not listed is its own class).
DEFAULT_DEVICE_SEATS: dict[str, int] = {"mobile": 1, "desktop": 1, "web": 0}
DEFAULT_PLATFORM_SEATS: dict[str, str] = {
    "ios": "mobile",
    "android": "mobile",
    "desktop": "desktop",
    "web": "web",
}


class SettingsError(ValueError):
    """A setting is missing or malformed; raised at start-up, never later."""


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _parse_pairs(value: str, what: str, shape: str) -> dict[str, str]:
    """Parse ``key=value,key=value``; ``what`` and ``shape`` (``type=function``) name a bad
    pair in the error."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, sep, item = part.partition("=")
        if not sep or not key or not item:
            raise SettingsError(f"bad {what} {part!r}; expected {shape}")
        pairs[key.strip()] = item.strip()
    return pairs


def _parse_frame_rates(value: str) -> dict[str, tuple[float, int]]:
    """Parse ``type=per_s/burst,...`` (the whole table; empty means no per-type limits)."""
    rates: dict[str, tuple[float, int]] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        frame_type, sep, rate = part.partition("=")
        per_s, slash, burst = rate.partition("/")
        if not sep or not frame_type.strip() or not slash:
            raise SettingsError(f"bad frame rate {part!r}; expected type=per_s/burst")
        rates[frame_type.strip()] = (float(per_s), int(burst))
    return rates


@dataclass(frozen=True, slots=True)
class Settings:
    """Every imfaas setting, with its environment variable named ``IMFAAS_<FIELD>``."""

    data_dir: Path = Path(".imfaas")
    node_id: str = field(default_factory=lambda: f"gw-{socket.gethostname()}")
    # Where the gateway's sockets are reachable, as told to clients in ``ws_url``.
    public_ws_url: str = ""
    # Adapter choices; the factory fails loudly on names it does not know.
    # Users, devices, sessions: "sqlite" (embedded) or "postgres".
    relational_backend: str = "sqlite"
    # Messages and conversation lists: "sqlite" (embedded) or "scylla" (ScyllaDB/Cassandra).
    message_backend: str = "sqlite"
    cache_backend: str = "memory"  # or "redis"
    bus_backend: str = "memory"  # or "kafka"
    route_backend: str = "memory"  # or "redis"
    # Media and backups: "files" (embedded, served by `imfaas dev`) or "s3" (MinIO).
    object_backend: str = "files"
    # Where `imfaas dev` serves presigned object URLs (its own origin when empty).
    public_http_url: str = ""
    bus_partitions: int = 16
    # Apply pending schema migrations when a process opens its adapters (dev and tests);
    # production runs `imfaas migrate` once per release instead.
    auto_migrate: bool = True
    # Real backends. A namespace (schema, keyspace, key prefix, topic prefix) lets several
    # installs or test runs share one server.
    postgres_dsn: str = "postgresql://imfaas:imfaas@127.0.0.1:25432/imfaas"
    postgres_schema: str = "public"
    postgres_pool_size: int = 10
    redis_url: str = "redis://127.0.0.1:26379/0"
    redis_prefix: str = "imfaas:"
    kafka_bootstrap: str = "127.0.0.1:29092"
    kafka_topic_prefix: str = ""
    cassandra_hosts: str = "127.0.0.1"
    cassandra_port: int = 29042
    cassandra_keyspace: str = "imfaas"
    cassandra_replication: int = 1
    s3_endpoint: str = "http://127.0.0.1:28333"
    # Where clients reach the S3 server: presigned media URLs name it (s3_endpoint when empty).
    s3_public_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = "imfaas"
    s3_secret_key: str = "imfaas-secret-key"
    s3_media_bucket: str = "imfaas-media"
    s3_backup_bucket: str = "imfaas-backups"
    # Media uploads (media.upload_url): the largest object, the content types allowed (an
    # entry "image/*" allows every image type), and how long presigned URLs stay valid.
    media_max_bytes: int = 100 * 1024 * 1024
    media_mime_types: tuple[str, ...] = DEFAULT_MEDIA_MIME_TYPES
    media_url_ttl_s: int = 900
    backend_timeout_s: float = 5.0
    # Offline push (the push function). Limits: notifications per user per minute and per
    # app (all users) per second, beyond them dropped; the retry budget per notification.
    push_user_per_minute: int = 30
    push_app_per_second: int = 1000
    push_max_attempts: int = 8
    push_retry_base_s: float = 1.0
    push_retry_max_s: float = 300.0
    push_timeout_s: float = 10.0
    # Providers: each is off until its credentials are set. URLs change only to point at a
    # fake; push_ca_file adds a CA the provider clients trust (the fakes' own, in tests).
    push_fcm_service_account_file: str = ""
    push_fcm_base_url: str = "https://fcm.googleapis.com"
    push_fcm_token_uri: str = ""
    push_apns_key_file: str = ""
    push_apns_key_id: str = ""
    push_apns_team_id: str = ""
    push_apns_bundle_id: str = ""
    push_apns_sandbox: bool = False
    push_apns_base_url: str = ""
    push_hms_app_id: str = ""
    push_hms_client_secret: str = ""
    push_hms_base_url: str = "https://push-api.cloud.huawei.com"
    push_hms_token_url: str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
    push_ca_file: str = ""
    # Tokens. The private key signs (login function only); public keys verify (gateway).
    jwt_private_key_file: str = ""
    jwt_public_keys_dir: str = ""
    jwt_kid: str = "k1"
    jwt_issuer: str = "imfaas"
    # The ``aud`` every access token carries and every verifier requires.
    jwt_audience: str = "imfaas"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    # Login brute force: failed logins are counted per username and per client IP over a
    # window; from the Nth failure on, each further attempt waits a lock that doubles from
    # the base up to the cap (429 rate_limited with Retry-After). A success clears the user's.
    login_failure_window_s: int = 900
    login_user_free_failures: int = 5
    login_ip_free_failures: int = 50
    login_lock_base_s: float = 1.0
    login_lock_max_s: float = 60.0
    # A login in a full seat displaces the device that took it longest ago (kicked, 4409);
    # IMFAAS_DEVICE_SEATS="mobile=1,desktop=1,web=0", IMFAAS_PLATFORM_SEATS="ios=mobile,...".
    device_seats: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DEVICE_SEATS))
    platform_seats: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PLATFORM_SEATS))
    # Protocol limits.
    max_frame_bytes: int = 64 * 1024
    max_http_body_bytes: int = 64 * 1024
    max_text_bytes: int = 16 * 1024
    max_client_msg_id_len: int = 128
    auth_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    socket_rate_per_s: float = 50.0
    socket_rate_burst: int = 200
    # Unsent bytes a socket may hold at the gateway before it is closed 1013 as too slow.
    max_send_buffer_bytes: int = 1024 * 1024
    # Per user and frame type on each node, on top of the per-socket bucket (see
    # DEFAULT_FRAME_RATES); IMFAAS_FRAME_RATES="msg.send=20/100,typing=2/5" replaces the table.
    frame_rates: dict[str, tuple[float, int]] = field(
        default_factory=lambda: dict(DEFAULT_FRAME_RATES)
    )
    # Sockets per gateway node and per client IP (0: no cap); beyond them, close 1013.
    max_connections: int = 100_000
    max_connections_per_ip: int = 1000
    # CIDRs of proxies whose X-Forwarded-For names the client IP; by default none is trusted.
    trusted_proxies: tuple[str, ...] = ()
    route_ttl_s: int = 120
    dedup_ttl_days: int = 7
    sync_default_limit: int = 500
    sync_max_limit: int = 1000
    history_default_limit: int = 50
    history_max_limit: int = 200
    conv_list_max: int = 1000
    # How long the sender may recall a message (msg.recall); a group's owner or admin has
    # no limit.
    recall_window_s: float = 120.0
    # Relationships: who may open a direct conversation (DIRECT_MESSAGE_POLICIES), and
    # the largest note a friend request may carry.
    direct_message_policy: str = "anyone"
    friend_message_max_bytes: int = 1024
    # Presence: who may subscribe to whom (False: friends only), the most users in one
    # presence.subscribe, and how long a subscription is kept (the route table tells whether
    # the subscribing socket still lives).
    presence_anyone: bool = False
    presence_subscribe_max: int = 100
    presence_subscription_ttl_s: float = 86_400.0
    # Groups: the most members one group may have (beyond it group.create and group.invite
    # get conflict), the longest name, and the group.members page sizes.
    group_member_limit: int = 10_000
    group_name_max_bytes: int = 256
    group_members_default_limit: int = 100
    group_members_max_limit: int = 1000
    # Transport between gateway and functions.
    frame_routes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FRAME_ROUTES))
    function_urls: dict[str, str] = field(default_factory=dict)
    function_timeout_s: float = 10.0
    internal_token: str = ""
    # How fanout reaches a gateway node: the URL the node announces, else this template (the
    # node id being its pod's DNS name).
    delivery_url_template: str = "http://{node}:8080/internal/v1/deliver"
    gateway_delivery_url: str = ""
    node_ttl_s: int = 15
    # The gateway terminates TLS itself when both are set (installs without an ingress); the
    # files are re-read when they change, checked every tls_reload_s, without a restart.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_reload_s: float = 10.0
    # OpenTelemetry spans per handled event go to this OTLP/HTTP collector (e.g.
    # http://otel-collector:4318); empty: none recorded and OpenTelemetry never imported.
    otlp_endpoint: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``IMFAAS_*`` variables; keyword overrides win over them."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f"IMFAAS_{f.name.upper()}"
            if key not in env or f.name in ("function_urls",):
                continue
            raw = env[key]
            values[f.name] = _convert(f.name, f.type, raw)
        urls = {
            name: env[f"IMFAAS_FUNCTION_URL_{name.upper()}"]
            for name in FUNCTION_NAMES
            if f"IMFAAS_FUNCTION_URL_{name.upper()}" in env
        }
        if urls:
            values["function_urls"] = urls
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed (settings themselves never change)."""
        changed = replace(self, **changes)
        changed.validate()
        return changed

    def validate(self) -> None:
        """Reject impossible values at start-up."""
        if self.max_frame_bytes < 1024:
            raise SettingsError("max_frame_bytes must be at least 1024")
        if self.max_send_buffer_bytes < self.max_frame_bytes:
            raise SettingsError("max_send_buffer_bytes must hold at least one frame")
        if self.bus_partitions < 1:
            raise SettingsError("bus_partitions must be positive")
        if self.idle_timeout_s <= 0 or self.auth_timeout_s <= 0:
            raise SettingsError("timeouts must be positive")
        if self.recall_window_s < 0:
            raise SettingsError("recall_window_s must not be negative")
        if ":" in self.node_id:
            raise SettingsError("node_id must not contain ':'")
        for frame_type, (per_s, burst) in self.frame_rates.items():
            if not (0 < per_s < math.inf) or burst < 1:
                raise SettingsError(f"frame rate of {frame_type}: rate and burst must be positive")
        if self.media_max_bytes < 0 or self.media_url_ttl_s < 1:
            raise SettingsError("media_max_bytes must be >= 0 and media_url_ttl_s positive")
        if self.direct_message_policy not in DIRECT_MESSAGE_POLICIES:
            known = ", ".join(DIRECT_MESSAGE_POLICIES)
            raise SettingsError(f"direct_message_policy must be one of: {known}")
        if self.group_member_limit < 1 or self.group_members_max_limit < 1:
            raise SettingsError("group_member_limit and group_members_max_limit must be positive")
        if self.max_connections < 0 or self.max_connections_per_ip < 0:
            raise SettingsError("connection caps must be 0 (no cap) or positive")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise SettingsError(f"trusted_proxies: {exc}") from exc
        for seat, count in self.device_seats.items():
            if count < 0:
                raise SettingsError(f"device_seats: {seat} needs 0 (any number) or more seats")


def _convert(name: str, type_name: Any, raw: str) -> Any:
    type_text = str(type_name)
    try:
        if name == "frame_routes":
            return _parse_pairs(raw, "frame route", "type=function")
        if name == "device_seats":
            seats = _parse_pairs(raw, "device seat", "class=count")
            return {seat: int(count) for seat, count in seats.items()}
        if name == "platform_seats":
            return _parse_pairs(raw, "platform seat", "platform=class")
        if name == "frame_rates":
            return _parse_frame_rates(raw)
        if name in ("trusted_proxies", "media_mime_types"):
            return tuple(filter(None, (p.strip() for p in raw.split(","))))
        if type_text == "Path":
            return Path(raw)
        if type_text == "int":
            return int(raw)
        if type_text == "float":
            return float(raw)
        if type_text == "bool":
            return _parse_bool(raw)
    except ValueError as exc:
        raise SettingsError(f"IMFAAS_{name.upper()}: {exc}") from exc
    return raw
