"""The gateway's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imfaas.gateway.client_address import IPNetwork, parse_networks
from imfaas.gateway.frame_rate_limits import FrameRate
from imfaas.gateway.session_protocol import SessionLimits
from imfaas.shared.settings import Settings


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Node identity, limits, routing table and key location."""

    node_id: str
    public_ws_url: str
    limits: SessionLimits
    frame_rates: dict[str, FrameRate]
    max_connections: int
    max_connections_per_ip: int
    trusted_proxies: tuple[IPNetwork, ...]
    max_http_body_bytes: int
    max_send_buffer_bytes: int
    route_ttl_s: int
    frame_routes: dict[str, str]
    public_keys_dir: Path
    jwt_issuer: str
    jwt_audience: str
    internal_token: str
    delivery_url: str
    node_ttl_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        """Pick the gateway's values; keys default to the data dir's dev keys."""
        return cls(
            node_id=settings.node_id,
            public_ws_url=settings.public_ws_url,
            limits=SessionLimits(
                max_frame_bytes=settings.max_frame_bytes,
                auth_timeout_s=settings.auth_timeout_s,
                idle_timeout_s=settings.idle_timeout_s,
                rate_per_s=settings.socket_rate_per_s,
                rate_burst=settings.socket_rate_burst,
            ),
            frame_rates={t: FrameRate(*rate) for t, rate in settings.frame_rates.items()},
            max_connections=settings.max_connections,
            max_connections_per_ip=settings.max_connections_per_ip,
            trusted_proxies=parse_networks(settings.trusted_proxies),
            max_http_body_bytes=settings.max_http_body_bytes,
            max_send_buffer_bytes=settings.max_send_buffer_bytes,
            route_ttl_s=settings.route_ttl_s,
            frame_routes=dict(settings.frame_routes),
            public_keys_dir=Path(settings.jwt_public_keys_dir or settings.data_dir / "keys"),
            jwt_issuer=settings.jwt_issuer,
            jwt_audience=settings.jwt_audience,
            internal_token=settings.internal_token,
            delivery_url=settings.gateway_delivery_url,
            node_ttl_s=settings.node_ttl_s,
        )
