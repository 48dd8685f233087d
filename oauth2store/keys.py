"""The client's signing key for private_key_jwt (RFC 7523 §2.2): the contract the token client relies on.

This module covers the IRIS path where `client_credentials` names stored X509Credentials: the key is that
credential's private key, its `kid` the RFC 7638 thumbprint of the public key, and `x5c` the certificate chain.
Parsed keys are cached by the PEM they came from, because loading an RSA key costs tens of milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from sqlalchemy.orm import object_session

from .errors import KeyMaterialError
from .pem import load_certificates, load_private_key

if TYPE_CHECKING:
    from .models.client import Client

_CACHE_SIZE = 64
_cache: dict[str, tuple[PrivateKeyTypes, str]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class SigningKey:
    """A private key to sign client assertions with, its `kid`, its JWS `alg`, and the certificate chain if any."""

    kid: str
    alg: str
    private_key: Any = field(repr=False)
    x5c: tuple[str, ...] | None = None


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def thumbprint(public_key: PublicKeyTypes) -> str:
    """The RFC 7638 JWK SHA-256 thumbprint of an RSA or EC public key, base64url without padding.

    Raises:
        KeyMaterialError: the key type has no JWK form here.
    """
    members: dict[str, str]
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        point = public_key.public_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(public_key.curve.name)
        if crv is None:
            raise KeyMaterialError(f"unsupported elliptic curve {public_key.curve.name}")

        def coordinate(value: int) -> str:
            return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode("ascii")

        members = {"crv": crv, "kty": "EC", "x": coordinate(point.x), "y": coordinate(point.y)}
    else:
        raise KeyMaterialError(f"unsupported key type {type(public_key).__name__}")
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")


def _load(pem: str, password: str | None, alias: str) -> tuple[PrivateKeyTypes, str]:
    digest = hashlib.sha256(pem.encode() + b"\0" + (password or "").encode()).hexdigest()
    with _cache_lock:
        cached = _cache.get(digest)
    if cached is not None:
        return cached
    try:
        key = load_private_key(pem, password)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(f"X509Credentials {alias!r}: the private key does not open with its password") from exc
    loaded = (key, thumbprint(key.public_key()))
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[digest] = loaded
    return loaded


def signing_key(client: Client, now: datetime | None = None) -> SigningKey:
    """The key `client` signs its private_key_jwt assertions with.

    Raises:
        KeyMaterialError: the client names no credentials, or they hold no usable private key.
    """
    from .models.x509_credentials import X509Credentials

    alias = client.client_credentials
    if not alias:
        raise KeyMaterialError(f"Client {client.application_name!r} has no client_credentials to sign with")
    session = object_session(client)
    credentials = session.get(X509Credentials, alias) if session is not None else None
    if credentials is None:
        raise KeyMaterialError(f"Client {client.application_name!r}: no X509Credentials {alias!r} is stored")
    if not credentials.private_key:
        raise KeyMaterialError(f"X509Credentials {alias!r} holds no private key")
    password = credentials.private_key_password or client.client_password
    key, kid = _load(credentials.private_key, password, alias)
    metadata = client.client_metadata
    alg = (metadata.token_endpoint_auth_signing_alg if metadata is not None else None) or "RS256"
    chain = tuple(
        base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
        for certificate in load_certificates(credentials.certificate)
    )
    return SigningKey(kid=kid, alg=alg, private_key=key, x5c=chain or None)
