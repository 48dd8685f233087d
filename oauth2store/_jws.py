"""Compact JWS signing (RFC 7515) for client assertions, with `cryptography` directly.

Signing needs no JOSE library: the algorithm is always the caller's explicit choice, checked against the key type,
so there is no "alg from the token" path to misuse. Verification of server-issued JWTs lives elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ._errors import KeyMaterialError

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _signature(alg: str, key: Any, signing_input: bytes) -> bytes:
    if alg in _HMAC:
        if not isinstance(key, bytes):
            raise KeyMaterialError(None, f"{alg} needs a shared secret")
        return hmac.new(key, signing_input, _HMAC[alg]).digest()
    digest = _HASHES.get(alg[2:])
    if digest is None:
        raise KeyMaterialError(None, f"unsupported JWS algorithm {alg!r}")
    if alg[:2] in ("RS", "PS") and isinstance(key, rsa.RSAPrivateKey):
        if alg.startswith("RS"):
            return key.sign(signing_input, padding.PKCS1v15(), digest())
        pss = padding.PSS(mgf=padding.MGF1(digest()), salt_length=padding.PSS.DIGEST_LENGTH)
        return key.sign(signing_input, pss, digest())
    if alg in _EC_SIZES and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest())))
        size = _EC_SIZES[alg]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise KeyMaterialError(None, f"a {type(key).__name__} cannot sign {alg}")


def sign(claims: dict[str, Any], alg: str, key: Any, *, kid: str | None = None) -> str:
    """The compact JWS of `claims`, signed with `alg` (HS* take bytes, RS*/PS*/ES* a cryptography private key).

    Raises:
        KeyMaterialError: the algorithm is unknown or does not fit the key.
    """
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{_json(header)}.{_json(claims)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(_signature(alg, key, signing_input))}"
