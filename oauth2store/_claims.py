"""The registered-claim checks of a JWT (RFC 7519 §4.1, RFC 9068 §4, OIDC Core §3.1.3.7), as pure functions.

`now` is passed in, so expiry is decided by the caller's clock, and `leeway` absorbs small clock differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import JWTValidationError


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JWTValidationError(name, "must be a NumericDate")
    return float(value)


def check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str | None, now: float, leeway: float) -> None:
    """Raise JWTValidationError naming the first claim that fails: exp (required), nbf, iat, iss, aud."""
    exp = _number(claims, "exp")
    if exp is None:
        raise JWTValidationError("exp", "is required")
    if now - leeway >= exp:
        raise JWTValidationError("exp", "the token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise JWTValidationError("nbf", "the token is not valid yet")
    iat = _number(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise JWTValidationError("iat", "the token was issued in the future")
    if claims.get("iss") != issuer:
        raise JWTValidationError("iss", f"must be {issuer!r}")
    if audience is not None:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in audiences:
            raise JWTValidationError("aud", f"must include {audience!r}")
