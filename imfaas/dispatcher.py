"""``imfaas dispatch``: what Knative's KafkaSource does in production, for the local cluster.

Each route consumes one topic in a consumer group of its own and POSTs every record, as a
binary-mode CloudEvent, to the function's URL: in order per partition, retried with backoff,
dead-lettered to ``<topic>.dlq`` when it keeps failing, committed only after success. The
consuming, ordering, retry and dead-letter rules are the Kafka bus's own
(``KafkaEventBus.subscribe``); this module only wires topics to function URLs.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.gateway.function_invoker import HttpInvoker
from imfaas.shared.adapters.event_bus_kafka import KafkaEventBus
from imfaas.shared.errors import BackendUnavailable
from imfaas.shared.function_catalog import dispatch_routes
from imfaas.shared.settings import Settings, SettingsError

log = logging.getLogger("imfaas.dispatch")

# (event type, function): the same table the Helm chart turns into KafkaSources.
DISPATCH_ROUTES = tuple(dispatch_routes())


def build_dispatcher(settings: Settings) -> tuple[KafkaEventBus, HttpInvoker]:
    """A Kafka bus whose subscriptions POST each event to its function."""
    missing = sorted({fn for _, fn in DISPATCH_ROUTES} - set(settings.function_urls))
    if missing:
        raise SettingsError("set IMFAAS_FUNCTION_URL_<NAME> for: " + ", ".join(missing))
    bus = KafkaEventBus(
        settings.kafka_bootstrap,
        topic_prefix=settings.kafka_topic_prefix,
        partitions=settings.bus_partitions,
        timeout_s=settings.backend_timeout_s,
        client_id="imfaas-dispatch",
    )
    invoker = HttpInvoker(settings.function_urls, settings.function_timeout_s)
    for event_type, function in DISPATCH_ROUTES:

        async def deliver(event: CloudEvent, function: str = function) -> None:
            # A function that cannot take the event raises: the bus retries, then dead-letters.
            await invoker.invoke(function, event)

        group = f"dispatch.{function}.{event_type.removeprefix(catalog.PREFIX)}"
        bus.subscribe(event_type, group, deliver)
    return bus, invoker


async def run_dispatcher(
    settings: Settings, stop: asyncio.Event, health_port: int | None = None
) -> None:
    """Dispatch until ``stop`` is set, then let records in flight finish. With a health port,
    ``GET /healthz`` answers 200 once every consumer holds its partitions."""
    bus, invoker = build_dispatcher(settings)
    await invoker.start()
    health = await _serve_health(bus, health_port) if health_port else None
    try:
        while True:
            try:
                await bus.start()
                break
            except BackendUnavailable as exc:
                log.warning("kafka not reachable yet: %s", exc)
                await asyncio.sleep(1)
        await stop.wait()
    finally:
        if health is not None:
            await health.cleanup()
        await bus.stop()
        await invoker.stop()


async def _serve_health(bus: KafkaEventBus, port: int) -> web.AppRunner:
    async def healthz(request: web.Request) -> web.Response:
        ready = bus.consuming()
        return web.json_response({"consuming": ready}, status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner
