"""Write one Dockerfile per function from deploy/images/function.Dockerfile.in.

Each image installs only the driver extras of the ports its handler's ``NEEDS`` names.
``python deploy/dockerfiles.py`` rewrites them; ``--check`` exits 1 when one is out of date.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from imfaas.shared.settings import FUNCTION_NAMES

IMAGES = Path(__file__).resolve().parent / "images"
TEMPLATE = IMAGES / "function.Dockerfile.in"

# The pyproject extra whose driver serves each port in production (adapter_factory's choices).
PORT_EXTRAS = {
    "users": "postgres",
    "devices": "postgres",
    "messages": "scylla",
    "conversations": "scylla",
    "routes": "redis",
    "cache": "redis",
    "nodes": "redis",
    # Fanout reaches gateways over HTTP, and finds them in the node registry (Redis).
    "delivery": "redis",
    "bus": "kafka",
    "objects": "s3",
}


def function_needs(name: str) -> tuple[str, ...]:
    """The ports a function's handler asks for."""
    return tuple(importlib.import_module(f"imfaas.functions.{name}.handler").NEEDS)


def extras_for(needs: tuple[str, ...]) -> list[str]:
    """The extras (drivers) those ports use, sorted."""
    return sorted({PORT_EXTRAS[port] for port in needs})


def dockerfile_path(name: str) -> Path:
    """Where a function's generated Dockerfile lives."""
    return IMAGES / f"{name}.Dockerfile"


def render(name: str) -> str:
    """The Dockerfile of one function."""
    needs = function_needs(name)
    extras = extras_for(needs)
    return Template(TEMPLATE.read_text()).substitute(
        name=name,
        ports=", ".join(needs),
        extras_text=", ".join(extras) or "none",
        requirement=f".[{','.join(extras)}]" if extras else ".",
    )


@dataclass
class ImageCommand:
    """What the final stage of a Dockerfile runs: argv, working dir, environment, copies."""

    argv: list[str]
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    # Destination path in the image -> source path in the build context (the repo root).
    copies: dict[str, str] = field(default_factory=dict)
    user: str = "root"


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each instruction; continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    return result


def _exec_form(arguments: str) -> list[str]:
    argv = json.loads(arguments)
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError(f"not an exec-form argument list: {arguments}")
    return argv


def image_command(text: str) -> ImageCommand:
    """The command of the final stage (ENTRYPOINT + CMD, both in exec form)."""
    entrypoint: list[str] = []
    cmd: list[str] = []
    found = ImageCommand([])
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            entrypoint, cmd, found = [], [], ImageCommand([])
        elif keyword == "WORKDIR":
            found.workdir = str(Path(found.workdir, rest))
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                found.env[key] = value
        elif keyword == "USER":
            found.user = rest
        elif keyword == "COPY":
            *sources, dest = shlex.split(rest)
            if not any(s.startswith("--from") for s in sources):
                target = Path(found.workdir, dest)
                for source in sources:
                    found.copies[str(target)] = source
        elif keyword == "ENTRYPOINT":
            entrypoint = _exec_form(rest)
        elif keyword == "CMD":
            cmd = _exec_form(rest)
    found.argv = entrypoint + cmd
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name in FUNCTION_NAMES:
        path, text = dockerfile_path(name), render(name)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("out of date (run python deploy/dockerfiles.py):", *map(str, stale), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
