"""The standalone gateway will not serve delivery without a credential beyond loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from imfaas.gateway.standalone import build_gateway_app, check_internal_token
from imfaas.shared.settings import Settings, SettingsError

OPEN_HOSTS = ["0.0.0.0", "::", "", "10.1.2.3", "2001:db8::1", "gateway.internal"]
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.2", "::1", "localhost"]


@pytest.mark.parametrize("host", OPEN_HOSTS)
def test_beyond_loopback_without_a_token_it_refuses_to_start(host: str) -> None:
    with pytest.raises(SettingsError, match="IMFAAS_INTERNAL_TOKEN"):
        check_internal_token(Settings.from_env({}), host)


@pytest.mark.parametrize("host", OPEN_HOSTS + LOOPBACK_HOSTS)
def test_with_a_token_it_starts_anywhere(host: str) -> None:
    check_internal_token(Settings.from_env({}, internal_token="t0k3n"), host)


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_on_loopback_no_token_is_needed(host: str) -> None:
    check_internal_token(Settings.from_env({}), host)


async def test_building_the_app_checks_first(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)

    with pytest.raises(SettingsError, match="IMFAAS_INTERNAL_TOKEN"):
        await build_gateway_app(settings, "0.0.0.0", 8080)
