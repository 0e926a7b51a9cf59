"""``imfaas up``: the production shape on one machine, on the real backends.

Every function runs in its own process under functions-framework (exactly the command its
image runs), two gateway nodes run as ``imfaas gateway``, and ``imfaas dispatch`` plays
Knative's KafkaSource. The backends (PostgreSQL, Cassandra, Redis, Kafka) must be running:
``bash infra/backends.sh start``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from imfaas.shared.access_tokens import ensure_key_pair
from imfaas.shared.settings import FUNCTION_NAMES

READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 15.0

# The adapters of the production shape; namespaces and addresses pass through from the
# caller's environment (IMFAAS_POSTGRES_DSN, IMFAAS_POSTGRES_SCHEMA, ...).
REAL_BACKENDS = {
    "IMFAAS_RELATIONAL_BACKEND": "postgres",
    "IMFAAS_MESSAGE_BACKEND": "scylla",
    "IMFAAS_ROUTE_BACKEND": "redis",
    "IMFAAS_CACHE_BACKEND": "redis",
    "IMFAAS_BUS_BACKEND": "kafka",
}


@dataclass
class Child:
    """One process of the cluster."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready_url: str | None
    process: subprocess.Popen[bytes] | None = None


def function_source(name: str) -> Path:
    """The ``main.py`` functions-framework loads for a function."""
    import importlib

    return Path(importlib.import_module(f"imfaas.functions.{name}").__file__).parent / "main.py"


def plan_cluster(host: str, port: int, gateways: int, data_dir: Path) -> list[Child]:
    """Every process, in start order: functions, dispatcher, gateways."""
    keys = data_dir / "keys"
    ensure_key_pair(keys, "k1")
    function_ports = {name: port + 10 + i for i, name in enumerate(FUNCTION_NAMES)}
    env = {
        **os.environ,
        **REAL_BACKENDS,
        "IMFAAS_DATA_DIR": str(data_dir),
        "IMFAAS_JWT_PRIVATE_KEY_FILE": str(keys / "k1.private.pem"),
        "IMFAAS_JWT_PUBLIC_KEYS_DIR": str(keys),
        **{
            f"IMFAAS_FUNCTION_URL_{name.upper()}": f"http://{host}:{p}/"
            for name, p in function_ports.items()
        },
    }
    children = [
        Child(
            name,
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--source",
                str(function_source(name)),
                "--target",
                name,
                "--signature-type",
                "http",
                "--asgi",
                "--host",
                host,
                "--port",
                str(p),
            ],
            env,
            f"http://{host}:{p}/",
        )
        for name, p in function_ports.items()
    ]
    dispatch_port = port + 9
    children.append(
        Child(
            "dispatch",
            [sys.executable, "-m", "imfaas", "dispatch", "--health-port", str(dispatch_port)],
            env,
            f"http://{host}:{dispatch_port}/healthz",
        )
    )
    for i in range(gateways):
        gw_port = port + i
        children.append(
            Child(
                f"gateway-{i + 1}",
                [sys.executable, "-m", "imfaas", "gateway", "--host", host, "--port", str(gw_port)],
                {**env, "IMFAAS_NODE_ID": f"gw-{i + 1}"},
                f"http://{host}:{gw_port}/healthz",
            )
        )
    return children


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def start_children(children: list[Child], log_dir: Path) -> None:
    """Start each child (output to ``log_dir/<name>.log``) and wait until all are ready."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for child in children:
        with (log_dir / f"{child.name}.log").open("ab") as log:
            child.process = subprocess.Popen(
                child.command, env=child.env, stdout=log, stderr=subprocess.STDOUT
            )
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = [c for c in children if c.ready_url]
    while waiting:
        for child in list(waiting):
            assert child.process is not None and child.ready_url is not None
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited; see {log_dir / child.name}.log")
            if _ready(child.ready_url):
                waiting.remove(child)
        if time.monotonic() > deadline:
            names = ", ".join(c.name for c in waiting)
            raise RuntimeError(f"not ready after {READY_TIMEOUT_S:.0f} s: {names}")
        time.sleep(0.2)


def stop_children(children: list[Child]) -> None:
    """Gateways first (they drain: withdraw, close sockets with 1012), then the rest."""
    gateways = [c for c in children if c.name.startswith("gateway")]
    others = [c for c in children if not c.name.startswith("gateway")]
    for group in (gateways, others):
        for child in group:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in group:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def run_local_cluster(args: argparse.Namespace) -> int:
    """Start everything, report where it listens, run until signalled or a child dies."""
    data_dir = args.data_dir.resolve()
    children = plan_cluster(args.host, args.port, args.gateways, data_dir)
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        start_children(children, data_dir / "logs")
        gateways = [
            c.ready_url.removesuffix("/healthz")
            for c in children
            if c.name.startswith("gateway") and c.ready_url
        ]
        print(f"imfaas up: gateways {' '.join(gateways)}; logs in {data_dir / 'logs'}", flush=True)
        while not stopping:
            dead = [c.name for c in children if c.process and c.process.poll() is not None]
            if dead:
                print(f"imfaas up: {', '.join(dead)} exited; stopping", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    except RuntimeError as exc:
        print(f"imfaas up: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_children(children)
