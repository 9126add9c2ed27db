"""Behind a load balancer every request comes from the balancer's address: with
VERIFYAI_TRUSTED_PROXIES naming it, per-address limits count the real clients (the rightmost
X-Forwarded-For hop that is not a trusted proxy); a client-written hop is never believed."""

from __future__ import annotations

from tests.streams_support import pair
from tests.verify_support import assert_error

PROXY = "10.1.2.3"


def test_behind_a_trusted_proxy_each_client_has_its_own_pairing_limit(db, settings):
    settings.VERIFYAI_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.VERIFYAI_STREAM_PAIR_RATE = "3/m"
    for _ in range(3):
        pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert_error(pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1"),
                 429, "rate_limited")
    # Another client behind the same balancer is not limited by the first one.
    assert pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 404


def test_a_hop_the_client_wrote_itself_is_not_believed(db, settings):
    settings.VERIFYAI_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.VERIFYAI_STREAM_PAIR_RATE = "3/m"
    for index in range(3):
        # The balancer appends the address it saw; what the client sent stays on the left.
        pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.{index}, 198.51.100.7")

    assert_error(pair("BCDF-GHJK", REMOTE_ADDR=PROXY,
                      HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.7"), 429, "rate_limited")


def test_without_trusted_proxies_the_balancer_is_one_client(db, settings):
    settings.VERIFYAI_TRUSTED_PROXIES = []
    settings.VERIFYAI_STREAM_PAIR_RATE = "3/m"
    for index in range(3):
        pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{index}")

    assert_error(pair("BCDF-GHJK", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9"),
                 429, "rate_limited")
