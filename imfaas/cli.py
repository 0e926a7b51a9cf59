"""The ``imfaas`` command: ``dev`` runs everything in one process, ``chat`` is a terminal client."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from imfaas.shared.log_format import configure_logging, log_format
from imfaas.shared.settings import Settings, SettingsError

# The serving commands' --log-level defaults to IMFAAS_LOG_LEVEL when set.
_LOG_LEVEL = os.environ.get("IMFAAS_LOG_LEVEL", "INFO")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imfaas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run gateway and all functions on embedded adapters")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8080)
    dev.add_argument("--data-dir", type=Path, default=Path(".imfaas"))
    dev.add_argument("--log-level", default=_LOG_LEVEL)

    gateway = commands.add_parser(
        "gateway", help="run the connection gateway alone, calling functions over HTTP"
    )
    gateway.add_argument("--host", default="0.0.0.0")
    # PORT as for the functions (functions-framework), so an image can leave it to its runtime.
    gateway.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    gateway.add_argument("--log-level", default=_LOG_LEVEL)

    dispatch = commands.add_parser(
        "dispatch", help="consume Kafka topics and POST each event to its function"
    )
    dispatch.add_argument("--log-level", default=_LOG_LEVEL)
    dispatch.add_argument("--health-port", type=int, default=None)

    up = commands.add_parser(
        "up", help="local cluster: two gateways, every function and the dispatcher"
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8080, help="first gateway; the rest follow")
    up.add_argument("--data-dir", type=Path, default=Path(".imfaas-cluster"))
    up.add_argument("--gateways", type=int, default=2)
    up.add_argument("--log-level", default=_LOG_LEVEL)

    migrate = commands.add_parser(
        "migrate", help="apply schema migrations, create Kafka topics and S3 buckets"
    )
    migrate.add_argument("--no-buckets", action="store_true", help="skip the S3 buckets")
    migrate.add_argument("--log-level", default="WARNING")

    chat = commands.add_parser("chat", help="a small terminal chat client")
    chat.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's HTTP origin")
    chat.add_argument("--username", required=True)
    chat.add_argument("--password", required=True)
    chat.add_argument("--register", action="store_true", help="create the account first")
    chat.add_argument("--peer", help="user id to talk to (otherwise: /to <user_id>)")
    chat.add_argument("--device-id", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "dev":
        return _run_dev(args)
    if args.command == "gateway":
        return _run_gateway(args)
    if args.command == "migrate":
        return _run_async(args, lambda s: _migrate(s, not args.no_buckets))
    if args.command == "dispatch":
        return _run_async(args, lambda s: _serve_dispatch(s, args.health_port))
    if args.command == "up":
        from imfaas.local_cluster import run_local_cluster

        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(message)s")
        return run_local_cluster(args)
    if args.command == "chat":
        from imfaas.chat import run_chat

        return asyncio.run(run_chat(args))
    return 2


def _run_dev(args: argparse.Namespace) -> int:
    try:
        # A terminal by default: text (IMFAAS_LOG_FORMAT=json for a log collector).
        configure_logging(args.log_level, log_format("text"))
        settings = Settings.from_env(data_dir=args.data_dir)
    except (SettingsError, ValueError) as exc:
        print(f"imfaas: {exc}", file=sys.stderr)
        return 2
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    return run(_serve_dev(settings, args.host, args.port))


def _run_gateway(args: argparse.Namespace) -> int:
    from aiohttp import web

    from imfaas.gateway.access_log import PathOnlyAccessLogger
    from imfaas.gateway.standalone import build_gateway_app, gateway_tls

    try:
        configure_logging(args.log_level, log_format("json"))
        settings = Settings.from_env()
        tls = gateway_tls(settings)
        web.run_app(
            build_gateway_app(settings, args.host, args.port, tls),
            host=args.host,
            port=args.port,
            ssl_context=tls.context if tls is not None else None,
            print=None,
            shutdown_timeout=10.0,
            access_log_class=PathOnlyAccessLogger,
        )
    except (SettingsError, ValueError, OSError) as exc:
        print(f"imfaas: {exc}", file=sys.stderr)
        return 2
    return 0


def _run_async(args: argparse.Namespace, serve) -> int:
    try:
        configure_logging(args.log_level, log_format("json"))
        settings = Settings.from_env()
    except (SettingsError, ValueError) as exc:
        print(f"imfaas: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(settings))


async def _until_signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _migrate(settings: Settings, with_objects: bool) -> int:
    from imfaas.shared.errors import BackendUnavailable
    from imfaas.shared.schema_setup import set_up_backends

    try:
        for line in await set_up_backends(settings, with_objects):
            print(f"imfaas migrate: {line}")
    except BackendUnavailable as exc:
        print(f"imfaas migrate: a backend is unreachable: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve_dispatch(settings: Settings, health_port: int | None) -> int:
    from imfaas.dispatcher import run_dispatcher

    try:
        await run_dispatcher(settings, await _until_signalled(), health_port)
    except SettingsError as exc:
        print(f"imfaas: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve_dev(settings: Settings, host: str, port: int) -> int:
    from imfaas.embedded_runtime import EmbeddedRuntime

    runtime = EmbeddedRuntime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    address = await runtime.start(host, port)
    print(
        f"imfaas dev listening on {address.http_url} (WebSocket {address.ws_url}),"
        f" data in {settings.data_dir.resolve()}",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await runtime.stop()
    return 0
