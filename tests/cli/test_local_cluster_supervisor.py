"""``imfaas up`` restarts children that die, with a back-off, and publishes their pids."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from imfaas.local_cluster import (
    RESTART_DELAY_MAX_S,
    Child,
    pid_file,
    restart_dead_children,
    spawn_child,
)


def _child(code: str) -> Child:
    return Child("worker", [sys.executable, "-c", code], {}, None)


def _wait_exit(child: Child) -> None:
    assert child.process is not None
    child.process.wait(timeout=30)


def test_spawn_publishes_the_pid(tmp_path: Path) -> None:
    child = _child("import time; time.sleep(30)")
    spawn_child(child, tmp_path)
    try:
        assert child.process is not None
        assert pid_file(tmp_path, "worker").read_text().strip() == str(child.process.pid)
    finally:
        assert child.process is not None
        child.process.kill()
        child.process.wait()


def test_a_dead_child_is_started_again_with_a_new_pid(tmp_path: Path) -> None:
    child = _child("raise SystemExit(3)")
    spawn_child(child, tmp_path)
    first = child.process
    _wait_exit(child)
    now = time.monotonic()
    assert restart_dead_children([child], tmp_path, now) == []  # backing off
    restarted = restart_dead_children([child], tmp_path, now + child.restart_delay_s + 1e-3)
    assert restarted == ["worker (exit 3)"]
    assert child.process is not first and child.restarts == 1
    assert child.process is not None
    assert pid_file(tmp_path, "worker").read_text().strip() == str(child.process.pid)
    _wait_exit(child)


def test_a_crash_looping_child_backs_off_up_to_the_cap(tmp_path: Path) -> None:
    child = _child("raise SystemExit(1)")
    spawn_child(child, tmp_path)
    delays = []
    for _ in range(8):
        _wait_exit(child)
        now = time.monotonic()
        restart_dead_children([child], tmp_path, now)  # notices the death
        delays.append(child.restart_delay_s)
        assert restart_dead_children([child], tmp_path, now + child.restart_delay_s + 1e-3)
    _wait_exit(child)
    assert delays == sorted(delays) and delays[0] < delays[-1] == RESTART_DELAY_MAX_S


def test_a_live_child_is_left_alone(tmp_path: Path) -> None:
    child = _child("import time; time.sleep(30)")
    spawn_child(child, tmp_path)
    try:
        assert restart_dead_children([child], tmp_path, time.monotonic() + 100) == []
        assert child.restarts == 0
    finally:
        assert child.process is not None
        child.process.kill()
        child.process.wait()
