"""The gateway as its own process (a Deployment in production), calling functions over HTTP."""

from __future__ import annotations

from aiohttp import web

from imfaas.gateway.config import GatewayConfig
from imfaas.gateway.function_invoker import HttpInvoker
from imfaas.gateway.server import Gateway
from imfaas.shared.access_tokens import TokenVerifier
from imfaas.shared.adapter_factory import open_ports
from imfaas.shared.settings import Settings, SettingsError


async def build_gateway_app(settings: Settings, host: str, port: int) -> web.Application:
    """The gateway's aiohttp app; its clients open and close with the app.

    Without ``IMFAAS_PUBLIC_WS_URL`` / ``IMFAAS_GATEWAY_DELIVERY_URL`` the node announces its
    own listening address (right for one machine; a pod sets its own addresses).
    """
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    settings = settings.with_changes(
        public_ws_url=settings.public_ws_url or f"ws://{reachable}:{port}/v1/ws",
        gateway_delivery_url=settings.gateway_delivery_url
        or f"http://{reachable}:{port}/internal/v1/deliver",
    )
    missing = {fn for fn in set(settings.frame_routes.values()) | {"login"}} - set(
        settings.function_urls
    )
    if missing:
        raise SettingsError("set IMFAAS_FUNCTION_URL_<NAME> for: " + ", ".join(sorted(missing)))
    config = GatewayConfig.from_settings(settings)
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

    async def open_clients(app: web.Application) -> None:
        await invoker.start()

    async def close_clients(app: web.Application) -> None:
        await invoker.stop()
        await ports.close()

    app.on_startup.append(open_clients)
    app.on_cleanup.append(close_clients)
    return app
