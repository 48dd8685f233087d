"""The JWKS cache lifetime from HTTP caching headers, with IRIS's -1 / 0 / epoch convention, and after a failure."""

from __future__ import annotations

import pytest

from oauth2store._cache_expiry import (
    NEVER_EXPIRES,
    NOT_CACHEABLE,
    CachePolicy,
    expiry_from_headers,
    is_expired,
    retry_expiry,
)

NOW = 1_700_000_000.0
POLICY = CachePolicy(default=300, floor=60, ceiling=3600)


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [
        ({}, 300),
        ({"Cache-Control": "public, max-age=600"}, 600),
        ({"cache-control": "max-age=600", "Age": "100"}, 500),
        ({"Cache-Control": "max-age=5"}, 60),
        ({"Cache-Control": "max-age=999999"}, 3600),
        ({"Cache-Control": "max-age=nonsense"}, 300),
        ({"Expires": "Tue, 14 Nov 2023 22:23:20 GMT", "Date": "Tue, 14 Nov 2023 22:13:20 GMT"}, 600),
        ({"Expires": "Tue, 14 Nov 2023 22:23:20 GMT"}, 600),
        ({"Expires": "0"}, 300),
        ({"Cache-Control": "max-age=120", "Expires": "Tue, 14 Nov 2023 23:13:20 GMT"}, 120),
    ],
)
def test_lifetime(headers: dict[str, str], lifetime: int) -> None:
    assert expiry_from_headers(headers, NOW, POLICY) == int(NOW) + lifetime


def test_no_store_and_no_cache() -> None:
    assert expiry_from_headers({"Cache-Control": "no-store"}, NOW, POLICY) == NOT_CACHEABLE
    assert expiry_from_headers({"Cache-Control": "no-cache, max-age=600"}, NOW, POLICY) == int(NOW)


def test_is_expired() -> None:
    assert is_expired(None, NOW) and is_expired(NOT_CACHEABLE, NOW)
    assert not is_expired(NEVER_EXPIRES, NOW)
    assert not is_expired(int(NOW) + 1, NOW)
    assert is_expired(int(NOW), NOW)


@pytest.mark.parametrize(
    ("last_success", "wait"),
    [
        (None, 30),  # never fetched: the floor
        (NOW - 60, 30),  # a tenth of a short outage is under the floor
        (NOW - 1200, 120),  # a tenth of the time since the last success
        (NOW - 86_400, 300),  # capped
    ],
)
def test_a_failure_puts_the_next_fetch_off_by_a_jittered_backoff(last_success: float | None, wait: int) -> None:
    assert retry_expiry(NOW, last_success, POLICY, rand=lambda: 0.0) == int(NOW) + wait
    assert retry_expiry(NOW, last_success, POLICY, rand=lambda: 1.0) == int(NOW + wait * 0.8)  # a fifth less


def test_a_retry_after_is_waited_in_full_up_to_the_ceiling() -> None:
    assert retry_expiry(NOW, None, POLICY, rand=lambda: 0.0, retry_after=200) == int(NOW) + 200
    assert retry_expiry(NOW, None, POLICY, rand=lambda: 0.0, retry_after=5) == int(NOW) + 30  # never below the backoff
    assert retry_expiry(NOW, None, POLICY, rand=lambda: 0.0, retry_after=10**9) == int(NOW) + 300  # capped
