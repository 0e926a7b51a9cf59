"""The gateway as its own process (a Deployment in production), calling functions over HTTP."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from aiohttp import web

from imfaas.gateway.config import GatewayConfig
from imfaas.gateway.function_invoker import HttpInvoker
from imfaas.gateway.server import Gateway
from imfaas.gateway.tls_reloader import ReloadingTLS
from imfaas.shared import tracing
from imfaas.shared.access_tokens import TokenVerifier
from imfaas.shared.adapter_factory import open_ports
from imfaas.shared.settings import Settings, SettingsError


def listens_beyond_loopback(host: str) -> bool:
    """Whether other machines can reach a server bound to ``host``."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # "", a host name, or an interface's address: assume reachable


def check_internal_token(settings: Settings, host: str) -> None:
    """Refuse to serve delivery without a credential where other machines can call it."""
    # Refused rather than logged: a warning scrolls by, while an open delivery endpoint lets
    # anyone who can reach the node push frames to (and close) its sockets.
    if not settings.internal_token and listens_beyond_loopback(host):
        raise SettingsError(
            f"the gateway listens on {host or 'every address'} without IMFAAS_INTERNAL_TOKEN,"
            " so anyone who can reach it could deliver frames to its sockets; set"
            " IMFAAS_INTERNAL_TOKEN (the same value for the fanout function), or listen on"
            " 127.0.0.1"
        )


def gateway_tls(settings: Settings) -> ReloadingTLS | None:
    """The gateway's own TLS when cert and key are both set; ``SettingsError`` for only one."""
    if not settings.tls_cert_file and not settings.tls_key_file:
        return None
    if not (settings.tls_cert_file and settings.tls_key_file):
        raise SettingsError("set both IMFAAS_TLS_CERT_FILE and IMFAAS_TLS_KEY_FILE, or neither")
    return ReloadingTLS(Path(settings.tls_cert_file), Path(settings.tls_key_file))


async def build_gateway_app(
    settings: Settings, host: str, port: int, tls: ReloadingTLS | None = None
) -> web.Application:
    """The gateway's aiohttp app; its clients open and close with the app.

    Without ``IMFAAS_PUBLIC_WS_URL`` / ``IMFAAS_GATEWAY_DELIVERY_URL`` the node announces its
    own listening address (right for one machine; a pod sets its own addresses). Refuses
    (``SettingsError``) to listen beyond loopback without ``IMFAAS_INTERNAL_TOKEN``.
    """
    check_internal_token(settings, host)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    scheme = "wss" if tls is not None else "ws"
    settings = settings.with_changes(
        public_ws_url=settings.public_ws_url or f"{scheme}://{reachable}:{port}/v1/ws",
        gateway_delivery_url=settings.gateway_delivery_url
        or f"{'https' if tls is not None else 'http'}://{reachable}:{port}/internal/v1/deliver",
    )
    missing = {fn for fn in set(settings.frame_routes.values()) | {"login"}} - set(
        settings.function_urls
    )
    if missing:
        raise SettingsError("set IMFAAS_FUNCTION_URL_<NAME> for: " + ", ".join(sorted(missing)))
    config = GatewayConfig.from_settings(settings)
    tracing.configure(settings.otlp_endpoint, "gateway", config.node_id)
    ports = await open_ports(settings, ("cache", "routes", "nodes"))
    invoker = HttpInvoker(settings.function_urls, settings.function_timeout_s)
    gateway = Gateway(
        config,
        TokenVerifier.from_dir(config.public_keys_dir, config.jwt_issuer, config.jwt_audience),
        ports.cache,
        ports.routes,
        invoker,
        ports.nodes,
    )
    app = gateway.build_app()

    watcher: list[asyncio.Task[None]] = []

    async def open_clients(app: web.Application) -> None:
        await invoker.start()
        if tls is not None:
            watcher.append(asyncio.create_task(tls.watch(settings.tls_reload_s)))

    async def close_clients(app: web.Application) -> None:
        for task in watcher:
            task.cancel()
        await invoker.stop()
        await ports.close()
        if settings.otlp_endpoint:
            tracing.shutdown()

    app.on_startup.append(open_clients)
    app.on_cleanup.append(close_clients)
    return app
