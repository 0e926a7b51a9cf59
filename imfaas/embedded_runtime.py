"""``imfaas dev``: the gateway and every function in one process on the embedded adapters."""

from __future__ import annotations

import importlib
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web
from cloudevents.http import CloudEvent

from imfaas.events import trace_context
from imfaas.gateway.access_log import PathOnlyAccessLogger
from imfaas.gateway.config import GatewayConfig
from imfaas.gateway.function_invoker import InProcessInvoker
from imfaas.gateway.server import Gateway
from imfaas.shared import tracing
from imfaas.shared.access_tokens import TokenVerifier, ensure_key_pair
from imfaas.shared.adapter_factory import PORT_NAMES, Ports, open_ports
from imfaas.shared.adapters.delivery_inprocess import InProcessDelivery
from imfaas.shared.adapters.object_store_files import LocalFileObjectStore, object_routes
from imfaas.shared.function_catalog import FUNCTIONS, dispatch_routes
from imfaas.shared.function_runtime import Function
from imfaas.shared.ports.event_bus import EventBus
from imfaas.shared.settings import Settings

log = logging.getLogger("imfaas.dev")


@dataclass
class RunningAddress:
    """Where the embedded server listens."""

    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/ws"


class EmbeddedRuntime:
    """Wires functions, bus subscriptions, delivery and the gateway, as Knative would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ports: Ports | None = None
        self.functions: dict[str, Function] = {}
        self.gateway: Gateway | None = None
        self._runner: web.AppRunner | None = None
        self._delivery = InProcessDelivery()

    async def start(self, host: str, port: int) -> RunningAddress:
        """Open the data dir, start functions and bus, then listen."""
        settings = self.settings
        tracing.configure(settings.otlp_endpoint, "imfaas-dev", settings.node_id)
        ensure_key_pair(settings.data_dir / "keys", settings.jwt_kid)
        ports = await open_ports(settings, [p for p in PORT_NAMES if p != "delivery"])
        ports.delivery_ = self._delivery
        self.ports = ports
        self.functions = {
            spec.name: importlib.import_module(spec.handler_module).create_function(settings, ports)
            for spec in FUNCTIONS
        }
        for function in self.functions.values():
            await function.start()
        for event_type, function_name in dispatch_routes():
            self._subscribe(event_type, function_name)
        await self._bus().start()

        # Delivery is in-process here and needs no HTTP endpoint: unless a token is set, a
        # random one keeps /internal/v1/deliver closed to everyone.
        config = GatewayConfig.from_settings(
            settings.with_changes(
                internal_token=settings.internal_token or secrets.token_urlsafe(32)
            )
        )
        self.gateway = Gateway(
            config,
            TokenVerifier.from_dir(config.public_keys_dir, config.jwt_issuer, config.jwt_audience),
            ports.cache,
            ports.routes,
            InProcessInvoker(self.functions),
            ports.nodes,
        )
        self._delivery.attach(config.node_id, self.gateway.deliver_batch)
        app = self.gateway.build_app()
        # Presigned media URLs point at this process; MinIO takes this role in production.
        # The media function presigns with the same store, so its URLs name this origin.
        objects = ports.objects_
        if not isinstance(objects, LocalFileObjectStore):
            objects = LocalFileObjectStore.in_data_dir(settings.data_dir, "http://unset")
        app.router.add_routes(object_routes(objects))
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log_class=PathOnlyAccessLogger
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        address = RunningAddress(host, bound_port)
        objects.base_url = settings.public_http_url or address.http_url
        if not self.gateway.public_ws_url:
            self.gateway.public_ws_url = address.ws_url
        await self.gateway.announce()
        return address

    def _subscribe(self, event_type: str, function_name: str) -> None:
        function = self.functions[function_name]

        async def deliver(event: CloudEvent) -> None:
            with (
                trace_context.handling(event),
                tracing.span(f"{function_name} handle", event, "consumer"),
            ):
                await function.handle(event)

        self._bus().subscribe(event_type, function_name, deliver)

    def _bus(self) -> EventBus:
        assert self.ports is not None
        bus = self.ports.bus_
        if not hasattr(bus, "subscribe"):
            raise RuntimeError("imfaas dev needs an in-process event bus (bus_backend=memory)")
        return bus  # type: ignore[return-value]

    async def stop(self) -> None:
        """Close sockets (1012), stop the bus and functions, close the data dir."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self.gateway is not None:
            self._delivery.detach(self.gateway.config.node_id)
        for function in self.functions.values():
            await function.stop()
        if self.ports is not None:
            await self.ports.close()
        if self.settings.otlp_endpoint:
            tracing.shutdown()
