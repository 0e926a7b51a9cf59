"""imfaas and the peer, alternately, round after round: medians and ours / peer per scenario.

    python bench/compare.py                                   # P1 P2 P3 P5, imfaas dev, 3 rounds
    python bench/compare.py --target cluster --scenarios P2 P5
    python bench/compare.py --quick --rounds 1                # small loads: a smoke test

Each round runs every scenario on imfaas, then the same scenario on Centrifugo, with the
sizes of ``docs/benchmarks.md`` (``imfaas_scenarios.py`` and ``peer_scenarios.py`` pin the
servers to CPU 0 and themselves to CPU 1). Alternating spreads the machine's drift over
both sides; the medians and their ranges, and the ratio of the medians, go to the screen
and to ``bench/results/compare-<target>.json``. Centrifugo is started for the run (and
stopped after) unless it is already running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


@dataclass(frozen=True)
class Metric:
    """One figure of a scenario's result, and how its ratio reads."""

    key: str
    # "cost": less is better, the ratio is peer / ours (work per core, >1 favours imfaas);
    # "rate": more is better, ours / peer; "latency": shown, ratio ours / peer.
    kind: str


@dataclass(frozen=True)
class Scenario:
    """The sizes both sides run with and the result file imfaas writes."""

    sizes: list[str]
    quick_sizes: list[str]
    ours_result: str  # formatted with the target
    metrics: tuple[Metric, ...]
    # imfaas's arguments beyond the shared ones (P5: reconnects, the peer's P5 work).
    ours_only: tuple[str, ...] = ()


SCENARIOS = {
    "P1": Scenario(
        sizes=["--pairs", "50", "--rate", "1000", "--seconds", "8"],
        quick_sizes=["--pairs", "5", "--rate", "50", "--seconds", "3"],
        ours_result="P1-{target}",
        metrics=(
            Metric("server CPU ms per msg", "cost"),
            Metric("deliver p50 ms", "latency"),
            Metric("deliver p99 ms", "latency"),
            Metric("missing", "latency"),
        ),
    ),
    "P2": Scenario(
        sizes=["--members", "1000", "--messages", "200", "--rate", "20"],
        quick_sizes=["--members", "50", "--messages", "20", "--rate", "5"],
        ours_result="P2-{target}",
        metrics=(
            Metric("server CPU µs per delivery", "cost"),
            Metric("last member p50 ms", "latency"),
            Metric("last member p99 ms", "latency"),
            Metric("missing", "latency"),
        ),
    ),
    "P3": Scenario(
        sizes=["--sockets", "2000", "--seconds", "10"],
        quick_sizes=["--sockets", "200", "--seconds", "3"],
        ours_result="P3-{target}",
        metrics=(
            Metric("RSS per connection KB", "cost"),
            Metric("gateway CPU % with heartbeats", "cost"),
        ),
    ),
    "P5": Scenario(
        sizes=["--workers", "32", "--seconds", "6"],
        quick_sizes=["--workers", "4", "--seconds", "3"],
        ours_result="P5-connect-{target}",
        metrics=(
            Metric("connects/s", "rate"),
            Metric("auth→auth.ok p50 ms|connect p50 ms", "latency"),
            Metric("auth→auth.ok p99 ms|connect p99 ms", "latency"),
        ),
        ours_only=("--mode", "connect"),
    ),
}


def run(script: str, args: list[str]) -> None:
    """One scenario run; its own output goes to the screen as it comes."""
    subprocess.run([sys.executable, str(BENCH / script), *args], check=True)


def figure(result: dict, key: str) -> float:
    """A figure by key; ``a|b`` names our key and the peer's where they differ."""
    for name in key.split("|"):
        if name in result:
            return float(result[name])
    raise KeyError(key)


def summary(samples: list[float]) -> dict[str, float]:
    """Median and range."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def ratio(metric: Metric, ours: float, peer: float) -> float | None:
    """The ratio as the metric's kind reads it (None when a side is 0)."""
    if metric.kind == "cost":
        return peer / ours if ours else None
    return ours / peer if peer else None


def centrifugo(command: str) -> bool:
    """``bash bench/peer/centrifugo.sh <command>``; True when it exits 0."""
    done = subprocess.run(["bash", str(BENCH / "peer" / "centrifugo.sh"), command], check=False)
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["dev", "cluster"], default="dev")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small loads, to check the wiring")
    args = parser.parse_args()

    started_peer = False
    if not centrifugo("status"):
        if not centrifugo("start"):
            print("compare: Centrifugo did not start (bench/peer/centrifugo.sh install?)")
            return 2
        started_peer = True
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        name: {m.key: {"ours": [], "peer": []} for m in SCENARIOS[name].metrics}
        for name in args.scenarios
    }
    try:
        for round_no in range(1, args.rounds + 1):
            for name in args.scenarios:
                scenario = SCENARIOS[name]
                print(f"\n=== round {round_no}/{args.rounds}: {name} on imfaas {args.target}")
                sizes = scenario.quick_sizes if args.quick else scenario.sizes
                run(
                    "imfaas_scenarios.py",
                    [name, *sizes, *scenario.ours_only, "--target", args.target],
                )
                print(f"\n=== round {round_no}/{args.rounds}: {name} on Centrifugo")
                run("peer_scenarios.py", [name, *sizes])
                ours = json.loads(
                    (
                        RESULTS / f"{scenario.ours_result.format(target=args.target)}.json"
                    ).read_text()
                )
                peer = json.loads((RESULTS / f"{name}-centrifugo.json").read_text())
                for metric in scenario.metrics:
                    samples[name][metric.key]["ours"].append(figure(ours, metric.key))
                    samples[name][metric.key]["peer"].append(figure(peer, metric.key))
    finally:
        if started_peer:
            centrifugo("stop")

    table: dict[str, dict[str, object]] = {}
    print(f"\nimfaas {args.target} vs Centrifugo, {args.rounds} round(s), medians [min–max]")
    print(f"  {'scenario / figure':<44} {'imfaas':>24} {'Centrifugo':>24} {'ratio':>7}")
    for name in args.scenarios:
        for metric in SCENARIOS[name].metrics:
            ours = summary(samples[name][metric.key]["ours"])
            peer = summary(samples[name][metric.key]["peer"])
            r = ratio(metric, ours["median"], peer["median"])
            table[f"{name} {metric.key}"] = {"imfaas": ours, "centrifugo": peer, "ratio": r}

            def shown(s: dict[str, float]) -> str:
                return f"{s['median']:,.2f} [{s['min']:,.2f}–{s['max']:,.2f}]"

            label = f"{name} {metric.key.split('|')[0]}"
            ratio_text = "" if r is None or metric.kind == "latency" else f"{r:.2f}×"
            print(f"  {label:<44} {shown(ours):>24} {shown(peer):>24} {ratio_text:>7}")
    print(
        "\n  ratio: for costs (CPU, memory) the peer's over ours, so above 1 means imfaas does"
        "\n  more per core or per byte; for rates ours over the peer's."
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"compare-{args.target}.json").write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
