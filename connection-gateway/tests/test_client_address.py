"""The client IP: the peer, or X-Forwarded-For only through proxies the operator trusts."""

from __future__ import annotations

import pytest

from imfaas.gateway.client_address import client_ip, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8", "192.0.2.7"])


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip("203.0.113.5", ["1.2.3.4"], ()) == "203.0.113.5"


def test_an_untrusted_peer_cannot_choose_its_address():
    assert client_ip("203.0.113.5", ["1.2.3.4"], PROXIES) == "203.0.113.5"


def test_a_trusted_proxy_names_the_client():
    assert client_ip("10.1.2.3", ["198.51.100.9"], PROXIES) == "198.51.100.9"


def test_the_first_untrusted_hop_from_the_right_wins_over_what_the_client_wrote():
    # The client wrote "1.2.3.4"; our proxies appended the real address and each other.
    header = "1.2.3.4, 198.51.100.9, 10.9.9.9"

    assert client_ip("192.0.2.7", [header], PROXIES) == "198.51.100.9"


def test_several_headers_read_as_one_list():
    assert client_ip("10.0.0.1", ["1.2.3.4", "198.51.100.9"], PROXIES) == "198.51.100.9"


def test_a_chain_of_trusted_hops_ends_at_the_leftmost():
    assert client_ip("10.0.0.1", ["10.0.0.2, 10.0.0.3"], PROXIES) == "10.0.0.2"


def test_an_unreadable_hop_counts_as_the_proxy_that_sent_it():
    assert client_ip("10.0.0.1", ["1.2.3.4, not-an-ip"], PROXIES) == "10.0.0.1"


def test_a_trusted_proxy_without_the_header_is_the_client():
    assert client_ip("10.0.0.1", [], PROXIES) == "10.0.0.1"


@pytest.mark.parametrize(
    ("peer", "expected"),
    [("::ffff:203.0.113.5", "203.0.113.5"), ("2001:db8::1", "2001:db8::1")],
)
def test_addresses_are_normalised(peer, expected):
    assert client_ip(peer, [], ()) == expected


def test_ipv6_proxies_are_trusted_by_cidr():
    assert client_ip("fd00::1", ["2001:db8::7"], PROXIES) == "2001:db8::7"


def test_no_peer_address_is_one_bucket_of_its_own():
    assert client_ip(None, ["1.2.3.4"], PROXIES) == "unknown"


def test_bad_cidrs_are_rejected():
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])
