"""A function in its own process: it opens its own ports from the environment at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from cloudevents.http import CloudEvent

from imfaas.shared import tracing
from imfaas.shared.adapter_factory import Ports, open_ports
from imfaas.shared.function_runtime import Function
from imfaas.shared.settings import Settings

FunctionFactory = Callable[[Settings, Ports], Function]


class StandaloneFunction:
    """Wraps ``create_function``: settings from the environment, ports opened on ``start``."""

    def __init__(
        self,
        name: str,
        factory: FunctionFactory,
        needs: Iterable[str],
        settings: Settings | None = None,
    ) -> None:
        self.name = name
        self._factory = factory
        self._needs = tuple(needs)
        self._settings = settings
        self._ports: Ports | None = None
        self._inner: Function | None = None

    async def start(self) -> None:
        """Read settings, open the ports this function needs, start it."""
        settings = self._settings or Settings.from_env()
        # One process per function: its spans name the function as their service.
        tracing.configure(settings.otlp_endpoint, self.name)
        self._ports = await open_ports(settings, self._needs)
        self._inner = self._factory(settings, self._ports)
        await self._inner.start()

    async def stop(self) -> None:
        """Stop the function and close its ports."""
        if self._inner is not None:
            await self._inner.stop()
        if self._ports is not None:
            await self._ports.close()

    async def ready(self) -> bool:
        """Ready when started, the function says so, and every backend it uses answers."""
        if self._inner is None or self._ports is None:
            return False
        return await self._inner.ready() and await self._ports.ping()

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Delegate to the function."""
        assert self._inner is not None, "start() first"
        return await self._inner.handle(event)


def function_entry(name: str, factory: FunctionFactory, needs: Iterable[str]):
    """The functions-framework target for a function (``--signature-type http --asgi``)."""
    import functions_framework.aio

    from imfaas.shared.function_http import http_entry
    from imfaas.shared.log_format import configure_logging, log_format

    # Under functions-framework nothing else sets logging up: JSON lines for the collector.
    configure_logging(os.environ.get("IMFAAS_LOG_LEVEL", "INFO"), log_format("json"))

    entry = http_entry(lambda: StandaloneFunction(name, factory, needs))
    entry.__name__ = name
    entry.__qualname__ = name
    return functions_framework.aio.http(entry)
