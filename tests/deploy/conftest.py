"""Loads the scripts under deploy/ (not part of the package) for the deploy tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script(relative: str) -> ModuleType:
    """Import a file under the repository by path (once)."""
    name = "imfaas_deploy_" + Path(relative).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / relative)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def dockerfiles() -> ModuleType:
    return load_script("deploy/dockerfiles.py")
