"""ID token checks beyond the signature and registered claims (OpenID Connect Core 3.1.3.7, 12.2), on plain values.

IRIS `%SYS.OAuth2.Validation.ValidateIDToken`'s rules: the signature, `alg`, `exp`, `iat`, `iss` and `aud` are
checked by `_jwt_validation` (the algorithm from the client metadata, never from the token); here `sub`, `azp`,
`nonce`, `at_hash` and `auth_time`, and what a refreshed ID token must keep of the first. Every failure is a
`JWTValidationError` whose `check` names the claim.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from types import EllipsisType
from typing import Any

from cryptography.hazmat.primitives import hashes

from ._errors import JWTValidationError
from ._jwx import algorithms, base64url
from ._jwx.jwt import json_object, unverified_header


def at_hash(access_token: str, alg: str) -> str:
    """The `at_hash` of `access_token` for an ID token signed with `alg` (OIDC Core 3.1.3.6): the left half of
    the hash of its ASCII octets, base64url encoded."""
    entry = algorithms.signing(alg)
    if entry is None:
        raise JWTValidationError("alg", f"{alg!r} is not a JWS algorithm")
    digest = hashes.Hash(entry.hash)
    digest.update(access_token.encode("ascii"))
    value = digest.finalize()
    return base64url.encode(value[: len(value) // 2])


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        return list(aud)
    raise JWTValidationError("aud", "must be a string or a list of strings")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_id_token(
    claims: Mapping[str, Any],
    *,
    client_id: str,
    alg: str,
    nonce: str | EllipsisType | None,
    access_token: str | None,
    max_age: int | None,
    now: float,
    leeway: float,
) -> None:
    """OIDC Core 3.1.3.7 rules 3-4 and 9-13 and 3.2.2.9, on claims whose signature, `exp`, `iat`, `iss` and `aud`
    (contains `client_id`) were checked already.

    - `sub` is required; `iat` is required.
    - `azp`, when present, must be `client_id`; with several audiences it is required.
    - `nonce` must equal the one sent, and must be absent when none was sent (None); `...` does not check it.
    - `at_hash`, when present, must match `access_token`.
    - `auth_time` is required when `max_age` was sent, and must be within it (with `leeway`).

    Raises:
        JWTValidationError: `check` is the claim that failed.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise JWTValidationError("sub", "is required")
    if not isinstance(claims.get("iat"), int | float) or isinstance(claims.get("iat"), bool):
        raise JWTValidationError("iat", "is required in an ID token")
    audiences = _audiences(claims)
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise JWTValidationError("azp", "must be this client's client_id")
    if azp is None and len(audiences) > 1:
        raise JWTValidationError("azp", "is required when the ID token has several audiences")
    received = claims.get("nonce")
    if nonce is ...:
        pass
    elif nonce is None:
        if received is not None:
            raise JWTValidationError("nonce", "was not sent, yet the ID token has one")
    elif not isinstance(received, str) or not _equal(received, nonce):
        raise JWTValidationError("nonce", "does not match the one sent with the authorization request")
    expected_hash = claims.get("at_hash")
    if expected_hash is not None:
        if access_token is None or not isinstance(expected_hash, str):
            raise JWTValidationError("at_hash", "cannot be checked")
        if not _equal(expected_hash, at_hash(access_token, alg)):
            raise JWTValidationError("at_hash", "does not match the access token")
    if max_age is not None:
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            raise JWTValidationError("auth_time", "is required when max_age was sent")
        if auth_time + max_age + leeway < now:
            raise JWTValidationError("auth_time", "the user authenticated longer ago than max_age allows")


def check_refreshed_id_token(first: Mapping[str, Any], refreshed: Mapping[str, Any]) -> None:
    """OIDC Core 12.2: an ID token from a refresh keeps the first one's `iss`, `sub` and `aud`, and its
    `auth_time` when the first had one.

    Raises:
        JWTValidationError: `check` is the claim that changed.
    """
    for name in ("iss", "sub"):
        if refreshed.get(name) != first.get(name):
            raise JWTValidationError(name, "differs from the first ID token of the session")
    if sorted(_audiences(refreshed)) != sorted(_audiences(first)):
        raise JWTValidationError("aud", "differs from the first ID token of the session")
    if "auth_time" in first and refreshed.get("auth_time", first["auth_time"]) != first["auth_time"]:
        raise JWTValidationError("auth_time", "differs from the first ID token of the session")


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT this store validated before it stored it (no check is made here).

    Raises:
        JWTValidationError: "format", when it is not a compact JWS.
    """
    unverified_header(token)
    try:
        payload = base64url.decode(token.split(".")[1])
    except ValueError as error:
        raise JWTValidationError("format", "has a payload that is not base64url") from error
    return json_object(payload, "payload")
