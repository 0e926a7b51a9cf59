"""Settings: read once from IMFAAS_* variables, validated, frozen."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imfaas.shared.settings import (
    DEFAULT_FRAME_RATES,
    DEFAULT_FRAME_ROUTES,
    Settings,
    SettingsError,
)


def test_defaults_without_environment():
    settings = Settings.from_env({})

    assert settings.relational_backend == settings.message_backend == "sqlite"
    assert settings.bus_backend == settings.cache_backend == settings.route_backend == "memory"
    assert settings.max_frame_bytes == 64 * 1024
    assert settings.max_text_bytes == 16 * 1024
    assert settings.auth_timeout_s == 10.0
    assert settings.idle_timeout_s == 60.0
    assert settings.frame_routes == DEFAULT_FRAME_ROUTES
    assert settings.function_urls == {}


def test_values_are_parsed_to_their_field_types():
    settings = Settings.from_env(
        {
            "IMFAAS_DATA_DIR": "/var/lib/imfaas",
            "IMFAAS_NODE_ID": "gw-7",
            "IMFAAS_MAX_FRAME_BYTES": "2048",
            "IMFAAS_IDLE_TIMEOUT_S": "1.5",
            "IMFAAS_RELATIONAL_BACKEND": "postgres",
            "IMFAAS_BUS_PARTITIONS": "3",
        }
    )

    assert settings.data_dir == Path("/var/lib/imfaas")
    assert isinstance(settings.data_dir, Path)
    assert settings.node_id == "gw-7"
    assert settings.max_frame_bytes == 2048
    assert isinstance(settings.max_frame_bytes, int)
    assert settings.idle_timeout_s == 1.5
    assert settings.relational_backend == "postgres"
    assert settings.bus_partitions == 3


def test_unrelated_variables_are_ignored():
    settings = Settings.from_env({"HOME": "/root", "MAX_FRAME_BYTES": "1"})

    assert settings.max_frame_bytes == 64 * 1024


def test_keyword_overrides_win_over_the_environment():
    settings = Settings.from_env({"IMFAAS_NODE_ID": "from-env"}, node_id="from-code")

    assert settings.node_id == "from-code"


def test_from_env_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("IMFAAS_NODE_ID", "gw-os")

    assert Settings.from_env().node_id == "gw-os"


def test_function_urls_come_from_one_variable_per_function():
    settings = Settings.from_env(
        {
            "IMFAAS_FUNCTION_URL_SEND": "http://send.local",
            "IMFAAS_FUNCTION_URL_HISTORY": "http://history.local",
            "IMFAAS_FUNCTION_URL_NOPE": "http://ignored.local",
        }
    )

    assert settings.function_urls == {
        "send": "http://send.local",
        "history": "http://history.local",
    }


def test_frame_routes_are_parsed():
    settings = Settings.from_env({"IMFAAS_FRAME_ROUTES": " typing = presence ,msg.send=send,, "})

    assert settings.frame_routes == {"typing": "presence", "msg.send": "send"}


@pytest.mark.parametrize("value", ["typing", "=presence", "typing=", "a=b,c"])
def test_bad_frame_routes_raise(value):
    with pytest.raises(SettingsError, match="frame route"):
        Settings.from_env({"IMFAAS_FRAME_ROUTES": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMFAAS_MAX_FRAME_BYTES", "lots"),
        ("IMFAAS_MAX_FRAME_BYTES", "2048.5"),
        ("IMFAAS_MAX_FRAME_BYTES", ""),
        ("IMFAAS_IDLE_TIMEOUT_S", "soon"),
        ("IMFAAS_BUS_PARTITIONS", "0x"),
    ],
)
def test_malformed_numbers_raise_settings_error_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_frame_bytes": 1023},
        {"bus_partitions": 0},
        {"idle_timeout_s": 0},
        {"auth_timeout_s": -1},
        {"node_id": "gw:1"},
    ],
)
def test_impossible_values_are_rejected(overrides):
    with pytest.raises(SettingsError):
        Settings.from_env({}, **overrides)


def test_impossible_values_from_the_environment_are_rejected():
    with pytest.raises(SettingsError):
        Settings.from_env({"IMFAAS_MAX_FRAME_BYTES": "100"})


def test_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


def test_settings_are_frozen():
    settings = Settings.from_env({})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.node_id = "changed"  # type: ignore[misc]


def test_with_changes_returns_a_validated_copy():
    settings = Settings.from_env({}, node_id="gw-a")

    changed = settings.with_changes(node_id="gw-b")

    assert changed.node_id == "gw-b"
    assert settings.node_id == "gw-a"
    with pytest.raises(SettingsError):
        settings.with_changes(max_frame_bytes=10)


def test_each_settings_object_has_its_own_frame_routes():
    first, second = Settings.from_env({}), Settings.from_env({})

    first.frame_routes["x.unrouted"] = "presence"

    assert "x.unrouted" not in second.frame_routes
    assert "x.unrouted" not in DEFAULT_FRAME_ROUTES


def test_security_defaults():
    settings = Settings.from_env({})

    assert settings.frame_rates == DEFAULT_FRAME_RATES
    assert settings.frame_rates["msg.send"] == (20.0, 100)
    assert "ping" not in settings.frame_rates
    assert (settings.max_connections, settings.max_connections_per_ip) == (100_000, 1000)
    assert settings.trusted_proxies == ()


def test_frame_rates_replace_the_whole_table():
    settings = Settings.from_env({"IMFAAS_FRAME_RATES": " msg.send = 1.5/3 ,typing=2/5,, "})

    assert settings.frame_rates == {"msg.send": (1.5, 3), "typing": (2.0, 5)}
    assert Settings.from_env({"IMFAAS_FRAME_RATES": ""}).frame_rates == {}


@pytest.mark.parametrize(
    "value",
    [
        "typing",
        "typing=2",
        "=2/5",
        "typing=x/5",
        "typing=2/5.5",
        "typing=0/5",
        "typing=-1/5",
        "typing=2/0",
        "typing=nan/5",
        "typing=inf/5",
    ],
)
def test_bad_frame_rates_raise(value):
    with pytest.raises(SettingsError, match=r"(?i)frame.rate"):
        Settings.from_env({"IMFAAS_FRAME_RATES": value})


def test_connection_caps_and_trusted_proxies_are_parsed():
    settings = Settings.from_env(
        {
            "IMFAAS_MAX_CONNECTIONS": "0",
            "IMFAAS_MAX_CONNECTIONS_PER_IP": "5",
            "IMFAAS_TRUSTED_PROXIES": " 10.0.0.0/8, fd00::/8,,192.0.2.7 ",
        }
    )

    assert (settings.max_connections, settings.max_connections_per_ip) == (0, 5)
    assert settings.trusted_proxies == ("10.0.0.0/8", "fd00::/8", "192.0.2.7")


@pytest.mark.parametrize(
    "env",
    [
        {"IMFAAS_MAX_CONNECTIONS": "-1"},
        {"IMFAAS_MAX_CONNECTIONS_PER_IP": "-5"},
        {"IMFAAS_TRUSTED_PROXIES": "10.0.0.0/33"},
        {"IMFAAS_TRUSTED_PROXIES": "proxy.internal"},
    ],
)
def test_impossible_caps_and_proxies_are_rejected(env):
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_device_seats_default_to_one_mobile_one_desktop_any_web():
    settings = Settings.from_env({})

    assert settings.device_seats == {"mobile": 1, "desktop": 1, "web": 0}
    assert settings.platform_seats == {
        "ios": "mobile",
        "android": "mobile",
        "desktop": "desktop",
        "web": "web",
    }


def test_device_seats_and_platform_classes_are_parsed():
    settings = Settings.from_env(
        {
            "IMFAAS_DEVICE_SEATS": " mobile=2 , desktop=0,,tablet=1",
            "IMFAAS_PLATFORM_SEATS": "ios=mobile,android=tablet",
        }
    )

    assert settings.device_seats == {"mobile": 2, "desktop": 0, "tablet": 1}
    assert settings.platform_seats == {"ios": "mobile", "android": "tablet"}


@pytest.mark.parametrize(
    "env",
    [
        {"IMFAAS_DEVICE_SEATS": "mobile"},
        {"IMFAAS_DEVICE_SEATS": "mobile=one"},
        {"IMFAAS_DEVICE_SEATS": "mobile=-1"},
        {"IMFAAS_DEVICE_SEATS": "=1"},
        {"IMFAAS_PLATFORM_SEATS": "ios"},
        {"IMFAAS_PLATFORM_SEATS": "ios="},
    ],
)
def test_bad_device_seats_raise(env):
    with pytest.raises(SettingsError, match=r"(?i)seat"):
        Settings.from_env(env)
