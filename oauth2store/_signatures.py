"""JWS verification over python-jose: the only module that imports it.

python-jose accepts whatever `alg` a token names unless told otherwise, and picks keys loosely. So here:
the caller's allow-list is always passed, `none` and HMAC are refused (a server's JWKS holds public keys only),
the key is chosen by `kid` before verification, and its type must fit the algorithm (no RSA key used as an HMAC
secret). Keys are parsed once into a `KeySet` and reused: parsing costs far more than a verification.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jose import jwk, jws
from jose.exceptions import JOSEError

from ._errors import JWKSError, JWTValidationError

#: Asymmetric JWS algorithms and the key type (and EC curve) each needs (RFC 7518 §3.1).
ALGORITHM_KEY_TYPES: dict[str, tuple[str, str | None]] = {
    **{f"RS{bits}": ("RSA", None) for bits in (256, 384, 512)},
    **{f"PS{bits}": ("RSA", None) for bits in (256, 384, 512)},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
}
#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True)
class PublicKey:
    """One parsed public key of a JWKS."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    key: Any  # python-jose's key object, ready to verify


class KeySet:
    """A JWKS parsed once: keys by `kid`, each ready to verify signatures."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys = tuple(_parse_key(index, member) for index, member in enumerate(_members(jwks)))
        self._by_kid = {k.kid: k for k in self.keys if k.kid is not None}

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def select(self, kid: str | None, alg: str) -> PublicKey | None:
        """The key a token with this header names; without a `kid`, the only key that fits the algorithm."""
        if kid is not None:
            return self._by_kid.get(kid)
        kty, crv = ALGORITHM_KEY_TYPES[alg]
        fitting = [k for k in self.keys if k.kty == kty and (crv is None or k.crv == crv)]
        return fitting[0] if len(fitting) == 1 else None


def _members(jwks: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
        raise JWKSError("a JWKS must be a JSON object with a list of keys")
    return keys


def _parse_key(index: int, member: Mapping[str, Any]) -> PublicKey:
    kty = member.get("kty")
    where = f"key {index}" + (f" (kid {member['kid']!r})" if isinstance(member.get("kid"), str) else "")
    if kty not in ("RSA", "EC"):
        raise JWKSError(f"{where}: kty must be RSA or EC (got {kty!r})")
    if PRIVATE_MEMBERS & set(member):
        raise JWKSError(f"{where}: holds private key material; a published JWKS must hold public keys only")
    alg = member.get("alg")
    if alg is not None and ALGORITHM_KEY_TYPES.get(alg, ("",))[0] != kty:
        raise JWKSError(f"{where}: alg {alg!r} does not fit a {kty} key")
    crv = member.get("crv") if kty == "EC" else None
    try:
        key = jwk.construct(dict(member), alg or ("RS256" if kty == "RSA" else _ec_algorithm(crv)))
    except (JOSEError, ValueError, TypeError, KeyError) as error:
        raise JWKSError(f"{where}: not a usable {kty} public key") from error
    kid = member.get("kid")
    return PublicKey(kid if isinstance(kid, str) else None, kty, crv, alg, key)


def _ec_algorithm(crv: object) -> str:
    for alg, (kty, curve) in ALGORITHM_KEY_TYPES.items():
        if kty == "EC" and curve == crv:
            return alg
    raise JWKSError(f"unsupported EC curve {crv!r}")


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, parsed but not trusted (only the first segment is decoded)."""
    segment = token.split(".", 1)[0] if token.count(".") == 2 else ""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError as error:
        raise JWTValidationError("format", "is not a compact JWS") from error
    if not isinstance(header, dict):
        raise JWTValidationError("format", "has a header that is not a JSON object")
    return header


def verify_signature(
    token: str, keys: KeySet, algorithms: Collection[str], header: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The claims of `token` after its signature checked out with the key its header names.

    `header` is the token's already parsed header, when the caller has it.

    Raises:
        JWTValidationError: with `check` "alg", "kid" or "signature" naming what failed.
    """
    header = unverified_header(token) if header is None else header
    alg = header.get("alg")
    if alg not in ALGORITHM_KEY_TYPES or alg not in algorithms:
        allowed = ", ".join(sorted(a for a in algorithms if a in ALGORITHM_KEY_TYPES)) or "none"
        raise JWTValidationError("alg", f"{alg!r} is not accepted (accepted: {allowed})")
    kid = header.get("kid")
    key = keys.select(kid if isinstance(kid, str) else None, alg)
    if key is None:
        raise JWTValidationError("kid", f"no key {kid!r} in the server's JWKS")
    kty, crv = ALGORITHM_KEY_TYPES[alg]
    if key.kty != kty or (crv is not None and key.crv != crv) or (key.alg is not None and key.alg != alg):
        raise JWTValidationError("alg", f"{alg!r} does not fit key {kid!r}")
    try:
        payload = jws.verify(token, key.key, algorithms=[alg])
    except JOSEError as error:
        raise JWTValidationError("signature", "does not verify") from error
    try:
        claims = json.loads(payload)
    except ValueError as error:
        raise JWTValidationError("format", "has a payload that is not JSON") from error
    if not isinstance(claims, dict):
        raise JWTValidationError("format", "has a payload that is not a JSON object")
    return claims
