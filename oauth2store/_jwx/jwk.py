"""JSON Web Keys (RFC 7517) with `cryptography` alone: generation, (de)serialization, thumbprints, key sets.

Pure functions, no I/O. RSA and EC on the NIST curves only: what a client needs for its own keys (RS*, PS*, ES*,
RSA-OAEP, RSA1_5) and what it accepts in a server's JWKS. `PublicKey`/`PrivateKey` are `cryptography`'s key types;
a parsed JWKS (`KeySet`) holds `JWKSKey`s, each one such `PublicKey` with the JWK members that select it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .._errors import JWKSError
from . import algorithms, base64url

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_KEY_SIZE = 2048
#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: RFC 7638 §3.2: the members a thumbprint covers, by key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def generate_private_key(alg: str) -> PrivateKey:
    """A new private key for a JWS signing or JWE key-management algorithm; ValueError for any other."""
    kty = algorithms.key_type(alg)
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    entry = algorithms.signing(alg)
    if kty == "EC" and entry is not None and entry.curve is not None:
        return ec.generate_private_key(entry.curve)
    raise ValueError(f"{alg} is not an algorithm with a key pair")


def _crv(curve: ec.EllipticCurve) -> str:
    for crv, known in algorithms.CURVES.items():
        if known.name == curve.name:
            return crv
    raise ValueError(f"unsupported EC curve {curve.name}")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK members of a key (no kid/use/alg)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": base64url.encode_uint(numbers.n), "e": base64url.encode_uint(numbers.e)}
    size = (key.curve.key_size + 7) // 8
    point = key.public_numbers()
    x, y = base64url.encode_uint(point.x, size), base64url.encode_uint(point.y, size)
    return {"kty": "EC", "crv": _crv(key.curve), "x": x, "y": y}


def private_jwk(key: PrivateKey) -> dict[str, str]:
    """The full private JWK members of a key (no kid/use/alg)."""
    members = public_jwk(key.public_key())
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        uint = base64url.encode_uint
        members.update(d=uint(numbers.d), p=uint(numbers.p), q=uint(numbers.q))
        members.update(dp=uint(numbers.dmp1), dq=uint(numbers.dmq1), qi=uint(numbers.iqmp))
    else:
        size = (key.curve.key_size + 7) // 8
        members["d"] = base64url.encode_uint(key.private_numbers().private_value, size)
    return members


def _rsa_numbers(jwk: Mapping[str, Any]) -> rsa.RSAPublicNumbers:
    return rsa.RSAPublicNumbers(base64url.decode_uint(jwk["e"]), base64url.decode_uint(jwk["n"]))


def _ec_numbers(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicNumbers:
    curve = algorithms.CURVES[jwk["crv"]]
    return ec.EllipticCurvePublicNumbers(base64url.decode_uint(jwk["x"]), base64url.decode_uint(jwk["y"]), curve)


def load_public_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """The `cryptography` public key of an RSA or EC JWK; ValueError if malformed or not a valid key."""
    try:
        if jwk["kty"] == "RSA":
            return _rsa_numbers(jwk).public_key()
        if jwk["kty"] == "EC":
            return _ec_numbers(jwk).public_key()
    except (KeyError, TypeError) as error:
        raise ValueError("malformed public JWK") from error
    raise ValueError("unsupported JWK key type")


def load_private_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """The `cryptography` private key of a private JWK (RSA with CRT members, or EC); ValueError if malformed."""
    uint = base64url.decode_uint
    try:
        if jwk["kty"] == "RSA":
            p, q, d = uint(jwk["p"]), uint(jwk["q"]), uint(jwk["d"])
            dp, dq, qi = uint(jwk["dp"]), uint(jwk["dq"]), uint(jwk["qi"])
            return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, _rsa_numbers(jwk)).private_key()
        if jwk["kty"] == "EC":
            return ec.EllipticCurvePrivateNumbers(uint(jwk["d"]), _ec_numbers(jwk)).private_key()
    except (KeyError, TypeError) as error:
        raise ValueError("malformed private JWK") from error
    raise ValueError("unsupported JWK key type")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members, sorted, without whitespace."""
    required = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return base64url.encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def fits(alg: str, key: PrivateKey | PublicKey) -> bool:
    """True when `alg` signs or verifies with `key`: RSA for RS*/PS*, EC on the algorithm's own curve for ES*."""
    entry = algorithms.signing(alg)
    if entry is None or not entry.has_key_pair:
        return False
    if entry.kty == "RSA":
        return isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or entry.curve is None:
        return False
    return key.curve.name == entry.curve.name


def x5c(certificates: list[x509.Certificate]) -> tuple[str, ...]:
    """The JWK `x5c` member: each certificate's DER in standard (not url-safe) base64, leaf first (RFC 7517 §4.7)."""
    return tuple(
        base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
        for certificate in certificates
    )


@dataclass(frozen=True, eq=False)
class JWKSKey:
    """One public key of a server's JWKS, with the members that select it."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    use: str | None
    key: PublicKey = field(repr=False)
    #: What a JWS library prepared from `key`, by algorithm: filled by `jws.verify`, reused by later verifications.
    prepared: dict[str, object] = field(default_factory=dict, repr=False)

    def fits(self, alg: str) -> bool:
        """True when this key may verify `alg`: the right type and curve, and no other `alg` or `use` declared."""
        return fits(alg, self.key) and self.alg in (None, alg) and self.use in (None, "sig")


class KeySet:
    """A JWKS parsed once (RFC 7517 §5): keys by `kid`, each ready to verify signatures.

    Raises JWKSError for anything but RSA and EC public keys: a JWKS holding private key material, another key
    type, an `alg` its key cannot do, or members that are not a key.
    """

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys = tuple(_parse_key(index, member) for index, member in enumerate(_members(jwks)))
        self._by_kid = {k.kid: k for k in self.keys if k.kid is not None}

    def __contains__(self, kid: object) -> bool:
        return isinstance(kid, str) and kid in self._by_kid

    def select(self, kid: str | None, alg: str) -> JWKSKey | None:
        """The key a token with this header names; without a `kid`, the only key that fits the algorithm."""
        if kid is not None:
            return self._by_kid.get(kid)
        fitting = [k for k in self.keys if k.fits(alg)]
        return fitting[0] if len(fitting) == 1 else None


def _members(jwks: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
        raise JWKSError("a JWKS must be a JSON object with a list of keys")
    return keys


def _parse_key(index: int, member: Mapping[str, Any]) -> JWKSKey:
    kty, kid, alg, use = (member.get(name) for name in ("kty", "kid", "alg", "use"))
    where = f"key {index}" + (f" (kid {kid!r})" if isinstance(kid, str) else "")
    if kty not in ("RSA", "EC"):
        raise JWKSError(f"{where}: kty must be RSA or EC (got {kty!r})")
    if PRIVATE_MEMBERS & set(member):
        raise JWKSError(f"{where}: holds private key material; a published JWKS must hold public keys only")
    if alg is not None and algorithms.key_type(alg) != kty:
        raise JWKSError(f"{where}: alg {alg!r} does not fit a {kty} key")
    try:
        key = load_public_jwk(member)
    except ValueError as error:
        raise JWKSError(f"{where}: not a usable {kty} public key") from error
    crv = member["crv"] if kty == "EC" else None
    return JWKSKey(kid if isinstance(kid, str) else None, kty, crv, alg, use if isinstance(use, str) else None, key)
