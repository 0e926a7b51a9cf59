"""The OpenFaaS stack: every function with its image and scaling labels, settings without
credentials, and the always-on manifests valid and wired to the functions."""

from __future__ import annotations

from types import ModuleType

import pytest
import yaml

from imfaas.dispatcher import DISPATCH_ROUTES
from imfaas.shared.settings import FUNCTION_NAMES

from .conftest import REPO, load_script

OPENFAAS = REPO / "deploy" / "openfaas"
WARM = {"send", "store", "fanout"}


@pytest.fixture(scope="module")
def stack() -> dict:
    return yaml.safe_load((OPENFAAS / "stack.yml").read_text())


@pytest.fixture(scope="module")
def validation() -> ModuleType:
    return load_script("deploy/manifest_validation.py")


def test_every_function_runs_its_own_image(stack: dict) -> None:
    functions = stack["functions"]
    assert set(functions) == {f"imfaas-{name}" for name in FUNCTION_NAMES}, (
        "every function needs an entry in deploy/openfaas/stack.yml"
    )
    for name in FUNCTION_NAMES:
        image = functions[f"imfaas-{name}"]["image"]
        assert image.rsplit(":", 1)[0].endswith(f"/imfaas-{name}")


def test_message_path_is_never_cold(stack: dict) -> None:
    for name in FUNCTION_NAMES:
        labels = stack["functions"][f"imfaas-{name}"]["labels"]
        assert int(labels["com.openfaas.scale.min"]) >= 1
        if name in WARM:
            assert labels["com.openfaas.scale.zero"] == "false"


def test_environment_files_exist_and_settings_hold_no_credentials(stack: dict) -> None:
    for function in stack["functions"].values():
        for name in function["environment_file"]:
            present = (OPENFAAS / name).exists() or name == "credentials.yml"
            assert present, name
    assert "credentials.yml" in (OPENFAAS / ".gitignore").read_text().split()
    settings = yaml.safe_load((OPENFAAS / "settings.yml").read_text())["environment"]
    credentials = yaml.safe_load((OPENFAAS / "credentials.example.yml").read_text())
    assert not set(settings) & set(credentials["environment"])
    assert not [k for k in settings if any(w in k for w in ("TOKEN", "SECRET", "DSN", "KEY_"))]


def test_always_on_manifests_validate_and_reach_every_function(validation: ModuleType) -> None:
    manifests = validation.documents((OPENFAAS / "always-on.yaml").read_text())
    assert [p for m in manifests for p in validation.problems(m)] == []
    config = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]
    for name in FUNCTION_NAMES:
        url = config[f"IMFAAS_FUNCTION_URL_{name.upper()}"]
        assert url.endswith(f"/function/imfaas-{name}")
    assert {fn for _, fn in DISPATCH_ROUTES} <= set(FUNCTION_NAMES)
    dispatch = next(m for m in manifests if m["metadata"]["name"] == "imfaas-dispatch")
    container = dispatch["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["imfaas", "dispatch"]
