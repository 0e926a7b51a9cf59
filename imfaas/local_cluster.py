"""``imfaas up``: the production shape on one machine, on the real backends.

Every function runs in its own process under functions-framework (exactly the command its
image runs), two gateway nodes run as ``imfaas gateway``, and ``imfaas dispatch`` plays
Knative's KafkaSource. The backends (PostgreSQL, Cassandra, Redis, Kafka) must be running:
``bash infra/backends.sh start``.

Like a kubelet with ``restartPolicy: Always``, a child that dies is started again (with a
back-off when it keeps dying), so a crash of one process is a blip, not an outage; each
child's current pid is in ``<data-dir>/run/<name>.pid`` for tools that crash them on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import os
import secrets
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
# Restart back-off: a child that lived shorter than STABLE_S waits twice as long as last time.
RESTART_DELAY_S = 0.2
RESTART_DELAY_MAX_S = 5.0
STABLE_S = 10.0

# The adapters of the production shape; namespaces and addresses pass through from the
# caller's environment (IMFAAS_POSTGRES_DSN, IMFAAS_POSTGRES_SCHEMA, ...).
REAL_BACKENDS = {
    "IMFAAS_RELATIONAL_BACKEND": "postgres",
    "IMFAAS_MESSAGE_BACKEND": "scylla",
    "IMFAAS_ROUTE_BACKEND": "redis",
    "IMFAAS_CACHE_BACKEND": "redis",
    "IMFAAS_BUS_BACKEND": "kafka",
    "IMFAAS_OBJECT_BACKEND": "s3",
}


@dataclass
class Child:
    """One process of the cluster."""

    name: str
    command: list[str]
    env: dict[str, str]
    ready_url: str | None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    died_at: float | None = None
    restarts: int = 0
    restart_delay_s: float = RESTART_DELAY_S / 2


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
        # Gateways accept delivery batches only from holders of this token (fanout); a fresh
        # one per run unless the caller chose one.
        "IMFAAS_INTERNAL_TOKEN": os.environ.get("IMFAAS_INTERNAL_TOKEN")
        or secrets.token_urlsafe(32),
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


PR_SET_PDEATHSIG = 1


def _die_with_the_supervisor() -> None:
    """In the child before exec: SIGTERM when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def signal_group(child: Child, signum: int) -> None:
    """Signal the child's whole process group (functions-framework forks gunicorn workers),
    as a container runtime stops every process of a container."""
    if child.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc), parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the ppid; the command name (field 2) may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def pid_file(data_dir: Path, name: str) -> Path:
    """Where the current pid of the child ``name`` is written."""
    return data_dir / "run" / f"{name}.pid"


def spawn_child(child: Child, data_dir: Path) -> None:
    """Start one child (output appended to its log) and publish its pid."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{child.name}.log").open("ab") as log:
        child.process = subprocess.Popen(
            child.command,
            env=child.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a crash or stop takes its workers along.
            start_new_session=True,
            preexec_fn=_die_with_the_supervisor,
        )
    child.started_at = time.monotonic()
    path = pid_file(data_dir, child.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed, so a reader never sees half a pid.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{child.process.pid}\n")
    tmp.replace(path)


def restart_dead_children(children: list[Child], data_dir: Path, now: float) -> list[str]:
    """Start again every child that exited and whose back-off has passed; returns their names."""
    restarted = []
    for child in children:
        process = child.process
        if process is None or process.poll() is None:
            continue
        if child.died_at is None:
            child.died_at = now
            # Workers orphaned by a crashed master would hold its port: clear them first.
            signal_group(child, signal.SIGKILL)
            # Crash-looping children wait longer each time; one that ran a while starts fresh.
            if now - child.started_at < STABLE_S:
                child.restart_delay_s = min(RESTART_DELAY_MAX_S, child.restart_delay_s * 2)
            else:
                child.restart_delay_s = RESTART_DELAY_S
        if now - child.died_at < child.restart_delay_s:
            continue
        spawn_child(child, data_dir)
        child.died_at = None
        child.restarts += 1
        restarted.append(f"{child.name} (exit {process.returncode})")
    return restarted


def start_children(children: list[Child], data_dir: Path) -> None:
    """Start each child (output to ``<data_dir>/logs/<name>.log``) and wait until all are ready."""
    log_dir = data_dir / "logs"
    for child in children:
        spawn_child(child, data_dir)
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
            signal_group(child, signal.SIGKILL)  # whatever of its group outlived it


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
        start_children(children, data_dir)
        gateways = [
            c.ready_url.removesuffix("/healthz")
            for c in children
            if c.name.startswith("gateway") and c.ready_url
        ]
        print(f"imfaas up: gateways {' '.join(gateways)}; logs in {data_dir / 'logs'}", flush=True)
        while not stopping:
            restarted = restart_dead_children(children, data_dir, time.monotonic())
            if restarted:
                print(f"imfaas up: restarted {', '.join(restarted)}", file=sys.stderr, flush=True)
            time.sleep(0.1)
        return 0
    except RuntimeError as exc:
        print(f"imfaas up: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_children(children)
