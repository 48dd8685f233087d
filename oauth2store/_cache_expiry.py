"""How long a fetched JWKS may be cached: HTTP caching (RFC 9111) in IRIS's expiry convention.

IRIS's convention (`OAuth2.Server.Registration.GetJWKS`): -1 never expires, 0 cannot be cached, else an epoch time.
The lifetime comes from `Cache-Control: max-age` (less `Age`), else `Expires` (against `Date`), else a default, kept
between a floor (so a server cannot make every validation refetch) and a ceiling (so a rotated key is seen within a
bounded time). `no-store` means 0; `no-cache` means "revalidate now" (the ETag is kept). A failed fetch is cached
too, as an expiry a short backoff ahead (`retry_expiry`), so a failing server is not asked again by every token.

Pure functions of the headers and `now`, kept apart from the fetching and parsing in oauth2store._server_jwks: the
policy is one decision of its own, tested without a server (tests/test_jwks_cache.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

NEVER_EXPIRES = -1
NOT_CACHEABLE = 0


@dataclass(frozen=True)
class CachePolicy:
    """Bounds on a JWKS's cached lifetime, in seconds."""

    default: int = 300
    floor: int = 60
    ceiling: int = 86_400
    #: After a failed fetch, the wait before the next one: a tenth of the time since the last success, within these.
    retry_floor: int = 30
    retry_ceiling: int = 300


DEFAULT_POLICY = CachePolicy()


def _directives(cache_control: str) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"') if value else None
    return directives


def _seconds(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def expiry_from_headers(headers: Mapping[str, str], now: float, policy: CachePolicy = DEFAULT_POLICY) -> int:
    """The IRIS-style expiry of a response received at `now` with these (case-insensitive) headers."""
    lowered = {k.lower(): v for k, v in headers.items()}
    directives = _directives(lowered.get("cache-control", ""))
    if "no-store" in directives:
        return NOT_CACHEABLE
    if "no-cache" in directives:
        return int(now)
    lifetime: float = policy.default
    max_age = _seconds(directives.get("max-age"))
    expires = _http_date(lowered.get("expires"))
    if max_age is not None:
        lifetime = max_age - (_seconds(lowered.get("age")) or 0)
    elif expires is not None:
        lifetime = expires - (_http_date(lowered.get("date")) or now)
    lifetime = min(max(lifetime, policy.floor), policy.ceiling)
    return int(now + lifetime)


def retry_expiry(
    now: float,
    last_success: float | None,
    policy: CachePolicy = DEFAULT_POLICY,
    rand: Callable[[], float] = random.random,
    retry_after: float | None = None,
) -> int:
    """The IRIS-style expiry that a fetch failed at `now` leaves: when the next fetch may be made.

    The wait grows with the outage (a tenth of the time since the last successful fetch, so retries thin out
    geometrically without a failure count to store), within the policy's retry bounds, and loses up to a fifth to
    jitter so that processes which saw one failure do not retry in step. A server's Retry-After (`retry_after`
    seconds) is waited in full, up to the policy's ceiling.
    """
    outage = now - last_success if last_success is not None else 0.0
    wait = min(max(outage / 10, policy.retry_floor), policy.retry_ceiling) * (1 - 0.2 * rand())
    if retry_after is not None:
        wait = max(wait, min(retry_after, policy.retry_ceiling))
    return int(now + wait)


def is_expired(expires: int | None, now: float) -> bool:
    """Whether a JWKS cached with this IRIS-style expiry must be fetched again."""
    if expires is None or expires == NOT_CACHEABLE:
        return True
    return expires != NEVER_EXPIRES and now >= expires
