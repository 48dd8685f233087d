"""JWT checks on plain values: the unverified header of a compact JWS, and the registered claims (RFC 7519 §4.1).

Whatever arrives as a token (bytes, None, a list, garbage text) ends as a `JWTValidationError`, never another
exception. `now` is passed in, so expiry is decided by the caller's clock; `leeway` absorbs small clock differences.
Claim rules: RFC 7519 §4.1, RFC 9068 §4, OIDC Core §3.1.3.7.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .._errors import JWTValidationError
from . import base64url

#: Three base64url segments (RFC 7515 §7.1); the signature may be empty only to be refused later as `alg: none`.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def json_object(data: bytes, part: str) -> dict[str, Any]:
    """`data` parsed as a JSON object.

    Raises:
        JWTValidationError: "format", when it is not UTF-8 JSON, nested too deep, or not an object.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise JWTValidationError("format", f"has a {part} that is not JSON") from error
    if not isinstance(value, dict):
        raise JWTValidationError("format", f"has a {part} that is not a JSON object")
    return value


def unverified_header(token: object) -> dict[str, Any]:
    """The JOSE header of a compact JWS, parsed but not trusted (only the first segment is decoded).

    A `crit` header is refused here, before anything else reads the header: RFC 7515 §4.1.11 requires refusing a
    JWS whose `crit` names an extension the recipient does not understand, and oauth2store understands none.

    Raises:
        JWTValidationError: "format" (not a compact JWS string) or "crit".
    """
    if not isinstance(token, str) or _COMPACT.fullmatch(token) is None:
        raise JWTValidationError("format", "is not a compact JWS (three base64url segments)")
    try:
        segment = base64url.decode(token[: token.index(".")])
    except ValueError as error:
        raise JWTValidationError("format", "has a header that is not base64url") from error
    header = json_object(segment, "header")
    if "crit" in header:
        raise JWTValidationError("crit", "names critical extensions, and none is understood")
    return header


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JWTValidationError(name, "must be a NumericDate")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise JWTValidationError(name, "must be a finite NumericDate")
    return number


def check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str | None, now: float, leeway: float) -> None:
    """Raise JWTValidationError naming the first claim that fails: exp (required), nbf, iat, iss, aud."""
    exp = _numeric_date(claims, "exp")
    if exp is None:
        raise JWTValidationError("exp", "is required")
    if now - leeway >= exp:
        raise JWTValidationError("exp", "the token has expired")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise JWTValidationError("nbf", "the token is not valid yet")
    iat = _numeric_date(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise JWTValidationError("iat", "the token was issued in the future")
    if claims.get("iss") != issuer:
        raise JWTValidationError("iss", f"must be {issuer!r}")
    if audience is not None:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if audience not in audiences:
            raise JWTValidationError("aud", f"must include {audience!r}")
