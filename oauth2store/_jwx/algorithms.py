"""The JWA table (RFC 7518): every algorithm oauth2store signs, verifies or makes keys for, described once.

Signers, verifiers, key generators and validators all read `SIGNING` and `KEY_MANAGEMENT`; none of them looks at
an algorithm's name (no `startswith("HS")`). `SIGNING` holds the JWS algorithms of RFC 7518 §3.1 except `none`;
`KEY_MANAGEMENT` the JWE key-management algorithms the client holds an RSA key pair for (§4.1: RSA1_5, RSA-OAEP,
RSA-OAEP-256); the symmetric ones (A*KW, dir) use the client secret and need no key of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


class Family(StrEnum):
    """How a JWS algorithm signs (RFC 7518 §3.2-3.5)."""

    HMAC = "HMAC"
    RSASSA_PKCS1 = "RSASSA-PKCS1-v1_5"
    ECDSA = "ECDSA"
    RSASSA_PSS = "RSASSA-PSS"


@dataclass(frozen=True)
class SigningAlgorithm:
    """One JWS `alg`: its family, hash, the JWK key type it needs and, for ECDSA, the curve and signature size."""

    name: str
    family: Family
    hash: hashes.HashAlgorithm
    #: The JWK `kty` of its key: "oct" (a shared secret), "RSA" or "EC".
    kty: str
    #: ECDSA only: the JWK `crv` (RFC 7518 §6.2.1.1) and its `cryptography` curve.
    crv: str | None = None
    curve: ec.EllipticCurve | None = None
    #: ECDSA only: octets of the JWS signature R || S, each padded to the curve's size (RFC 7518 §3.4).
    signature_size: int | None = None

    @property
    def has_key_pair(self) -> bool:
        """True for RS*, PS*, ES*: a private key signs and a public key verifies (HS* share one secret)."""
        return self.family is not Family.HMAC


@dataclass(frozen=True)
class KeyManagementAlgorithm:
    """One JWE `alg` that encrypts the content key to the client's RSA public key (RFC 7518 §4.2, §4.3)."""

    name: str
    kty: str


def _table(*entries: SigningAlgorithm) -> Mapping[str, SigningAlgorithm]:
    return {entry.name: entry for entry in entries}


_SHA256, _SHA384, _SHA512 = hashes.SHA256(), hashes.SHA384(), hashes.SHA512()
_HMAC, _PKCS1, _ECDSA, _PSS = Family.HMAC, Family.RSASSA_PKCS1, Family.ECDSA, Family.RSASSA_PSS

#: RFC 7518 §3.1, less `none`. ES512 is on P-521, whose R and S take 66 octets each.
SIGNING: Mapping[str, SigningAlgorithm] = _table(
    SigningAlgorithm("HS256", _HMAC, _SHA256, "oct"),
    SigningAlgorithm("HS384", _HMAC, _SHA384, "oct"),
    SigningAlgorithm("HS512", _HMAC, _SHA512, "oct"),
    SigningAlgorithm("RS256", _PKCS1, _SHA256, "RSA"),
    SigningAlgorithm("RS384", _PKCS1, _SHA384, "RSA"),
    SigningAlgorithm("RS512", _PKCS1, _SHA512, "RSA"),
    SigningAlgorithm("ES256", _ECDSA, _SHA256, "EC", "P-256", ec.SECP256R1(), 64),
    SigningAlgorithm("ES384", _ECDSA, _SHA384, "EC", "P-384", ec.SECP384R1(), 96),
    SigningAlgorithm("ES512", _ECDSA, _SHA512, "EC", "P-521", ec.SECP521R1(), 132),
    SigningAlgorithm("PS256", _PSS, _SHA256, "RSA"),
    SigningAlgorithm("PS384", _PSS, _SHA384, "RSA"),
    SigningAlgorithm("PS512", _PSS, _SHA512, "RSA"),
)
#: RFC 7518 §4.1: the key-management algorithms that encrypt to an RSA public key of the client.
KEY_MANAGEMENT: Mapping[str, KeyManagementAlgorithm] = {
    name: KeyManagementAlgorithm(name, "RSA") for name in ("RSA1_5", "RSA-OAEP", "RSA-OAEP-256")
}
#: JWK `crv` -> `cryptography` curve, for the curves of the ECDSA algorithms.
CURVES: Mapping[str, ec.EllipticCurve] = {
    entry.crv: entry.curve for entry in SIGNING.values() if entry.crv is not None and entry.curve is not None
}


def signing(alg: object) -> SigningAlgorithm | None:
    """The JWS algorithm named `alg`, or None for anything else (an unknown name, `none`, a list, an object)."""
    return SIGNING.get(alg) if isinstance(alg, str) else None


def is_hmac(alg: object) -> TypeGuard[str]:
    """True for HS256/384/512."""
    entry = signing(alg)
    return entry is not None and entry.family is Family.HMAC


def has_key_pair(alg: object) -> TypeGuard[str]:
    """True for a JWS algorithm that signs with a private key (RS*, PS*, ES*)."""
    entry = signing(alg)
    return entry is not None and entry.has_key_pair


def key_type(alg: object) -> str | None:
    """The `kty` of the key pair a JWS or JWE key-management algorithm needs; None when it needs no key pair."""
    entry = signing(alg)
    if entry is not None:
        return entry.kty if entry.has_key_pair else None
    managed = KEY_MANAGEMENT.get(alg) if isinstance(alg, str) else None
    return managed.kty if managed is not None else None
