"""Socket counting per node and per IP: refusals at the caps, release, no leaked entries."""

from __future__ import annotations

from imfaas.gateway.connection_caps import ConnectionCaps


def test_the_per_ip_cap_refuses_only_that_ip():
    caps = ConnectionCaps(max_total=100, max_per_ip=2)

    assert [caps.try_open("1.1.1.1") for _ in range(3)] == [
        None,
        None,
        "per-IP connection cap reached",
    ]
    assert caps.try_open("2.2.2.2") is None
    assert (caps.held_by("1.1.1.1"), caps.held_by("2.2.2.2"), caps.total) == (2, 1, 3)


def test_the_node_cap_refuses_every_ip():
    caps = ConnectionCaps(max_total=2, max_per_ip=10)
    caps.try_open("1.1.1.1")
    caps.try_open("2.2.2.2")

    assert caps.try_open("3.3.3.3") == "node connection cap reached"
    assert caps.total == 2 and caps.held_by("3.3.3.3") == 0


def test_a_refused_socket_is_not_counted_and_a_released_one_frees_its_place():
    caps = ConnectionCaps(max_total=10, max_per_ip=1)
    assert caps.try_open("1.1.1.1") is None
    assert caps.try_open("1.1.1.1") is not None
    assert caps.total == 1

    caps.release("1.1.1.1")
    assert caps.try_open("1.1.1.1") is None


def test_zero_means_no_cap():
    caps = ConnectionCaps(max_total=0, max_per_ip=0)

    assert all(caps.try_open("1.1.1.1") is None for _ in range(5000))
    assert caps.total == 5000


def test_released_ips_are_forgotten():
    caps = ConnectionCaps(max_total=0, max_per_ip=3)
    for i in range(1000):
        caps.try_open(f"10.0.{i // 256}.{i % 256}")
        caps.try_open(f"10.0.{i // 256}.{i % 256}")
    for i in range(1000):
        caps.release(f"10.0.{i // 256}.{i % 256}")
        caps.release(f"10.0.{i // 256}.{i % 256}")

    assert (caps.total, caps.ips) == (0, 0)


def test_a_release_without_an_open_changes_nothing():
    caps = ConnectionCaps(max_total=1, max_per_ip=1)
    caps.release("1.1.1.1")

    assert (caps.total, caps.ips) == (0, 0)
    assert caps.try_open("1.1.1.1") is None
    assert caps.try_open("2.2.2.2") == "node connection cap reached"
