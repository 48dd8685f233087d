"""validate_jwt (IRIS %SYS.OAuth2.Validation.ValidateJWT) on plain values: a JWT checked against a server's JWKS.

The accepted algorithms are the caller's, never the token's. The server's cached JWKS comes in as a `CachedJWKS`
with a `refresh(force, now)` callable that fetches (and keeps) the next one: it is called when the cached copy has
expired, and once per cooldown for an unknown `kid` (through the store's `UnknownKidRefreshes`, so concurrent
callers share one refresh). When the server cannot be reached, the last good JWKS keeps serving until
`STALE_LIMIT` after it was last fetched, also while a recorded failure puts the next attempt off (see
oauth2store._jwks_refresh). Every failure, a failed refresh included, is a `JWTValidationError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from ._cache_expiry import NEVER_EXPIRES
from ._errors import JWKSError, JWTValidationError, OAuth2StoreError
from ._jwx import jws
from ._jwx.jwk import KeySet
from ._jwx.jwt import check_claims, unverified_header
from ._server_jwks import CachedJWKS, UnknownKidRefreshes, is_due, is_usable_stale, parsed_key_set

log = logging.getLogger("oauth2store")

DEFAULT_LEEWAY = 60.0
#: How long after its last successful fetch a JWKS may still serve while its server is unreachable.
STALE_LIMIT = timedelta(hours=24)


def kind(error: Exception) -> str:
    """An error's class name: what a log line or message says of a failed refresh (its text may be long)."""
    return type(error).__name__


#: `refresh(force, now)`: fetch the server's JWKS when due (or `force`), keep it, and return the cached copy.
Refresh = Callable[[bool, float], CachedJWKS]


def _current_keys(issuer: str, cached: CachedJWKS, refresh: Refresh, now: float) -> KeySet:
    """The server's key set, refreshed first when due; a stale one serves while the server is unreachable."""
    limit = STALE_LIMIT.total_seconds()
    if is_due(cached, now):
        try:
            cached = refresh(False, now)
        except OAuth2StoreError as error:
            if not is_usable_stale(cached, now, limit):
                raise JWTValidationError("jwks", f"no usable JWKS for {issuer}: {error}") from error
            fetched = cached.fetched.isoformat() if cached.fetched is not None else "never"
            log.warning("JWKS refresh for %s failed (%s); serving the copy fetched at %s", issuer, kind(error), fetched)
    elif _is_put_off(cached) and not is_usable_stale(cached, now, limit):
        # Not due, but failed refreshes (or one under way in another process) put the expiry off.
        fetched = cached.fetched.isoformat() if cached.fetched is not None else "never"
        problem = f"no usable JWKS for {issuer}: the copy fetched at {fetched} is too old"
        raise JWTValidationError("jwks", f"{problem}, and it could not be refreshed since ({_next_attempt(cached)})")
    if cached.jwks is None:
        if cached.jwks_uri:
            problem = f"no usable JWKS for {issuer}: it could not be fetched ({_next_attempt(cached)})"
            raise JWTValidationError("jwks", problem)
        raise JWTValidationError("jwks", f"the server definition {issuer} has no JWKS (no jwks_uri)")
    try:
        return parsed_key_set(cached.jwks)
    except JWKSError as error:
        raise JWTValidationError("jwks", f"the stored JWKS cannot be used: {error}") from error


def _is_put_off(cached: CachedJWKS) -> bool:
    """A fetched copy whose expiry a refresh may have put off: served no longer than the stale limit allows."""
    return bool(cached.jwks_uri) and cached.expires != NEVER_EXPIRES and cached.fetched is not None


def _next_attempt(cached: CachedJWKS) -> str:
    """When the JWKS will be fetched again, in words."""
    if cached.expires is None or cached.expires <= 0:
        return "the next validation tries again"
    return f"next attempt after {datetime.fromtimestamp(cached.expires, UTC).isoformat()}"


def _keys_for_unknown_kid(
    issuer: str, kid: str, refresh: Refresh, refreshes: UnknownKidRefreshes | None, now: float
) -> KeySet | None:
    """Keys that know `kid` after at most one forced refresh per cooldown; None when none may be made."""
    if refreshes is None:
        return None

    def forced() -> KeySet:
        return parsed_key_set(refresh(True, now).jwks or {"keys": []})

    try:
        return refreshes.keys_for(issuer, kid, forced, now)
    except OAuth2StoreError as error:
        problem = f"the token's key is not in the JWKS, and refreshing it failed ({kind(error)})"
        raise JWTValidationError("jwks", problem) from error


def validate_jwt(
    token: object,
    *,
    issuer: str,
    cached: CachedJWKS,
    refresh: Refresh,
    refreshes: Callable[[], UnknownKidRefreshes | None],
    audience: str | None,
    algorithms: Collection[str],
    leeway: float = DEFAULT_LEEWAY,
    now: float,
) -> dict[str, Any]:
    """The claims of `token` once its signature, algorithm and registered claims check out.

    `refreshes()` gives the store's `UnknownKidRefreshes` (asked for only when the token names an unknown `kid`),
    or None when the JWKS cannot be refreshed.

    Raises:
        JWTValidationError: `check` names what failed ("format", "crit", "alg", "kid", "signature", "jwks", a claim).
    """
    keys = _current_keys(issuer, cached, refresh, now)
    header = unverified_header(token)
    kid = header.get("kid")
    if isinstance(kid, str) and kid not in keys and cached.jwks_uri:
        keys = _keys_for_unknown_kid(issuer, kid, refresh, refreshes(), now) or keys
    claims = jws.verify(token, keys, algorithms, header)
    check_claims(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    return claims
