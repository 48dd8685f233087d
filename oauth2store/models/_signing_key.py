"""The client's signing key for private_key_jwt: `signing_key(client)`, with parsed keys cached.

Parsing a private key is slow (an RSA-2048 key takes tens of milliseconds: `cryptography` checks it), signing is
fast, so parsed keys are kept in a small process-wide cache. The cache is keyed by a SHA-256 digest of the key
material itself (the private JWK, or the PEM, its password and the certificate), never by the client's name: a
rotation makes another key the active one (another digest), a rekey leaves the plaintext and thus the entry
unchanged and correct, and two stores holding a client of the same name with different keys never share an entry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .._errors import KeyMaterialError
from .._jwx import jwk
from .._jwx.jws import SigningKey
from .._lru import LRUCache
from .._pem import load_certificates, load_private_key
from .client_key import active_key

if TYPE_CHECKING:
    from .client import Client

#: How many parsed keys the process keeps.
CACHE_SIZE = 256
DEFAULT_SIGNING_ALGORITHM = "RS256"


#: Parsed private keys by a digest of their material: (key, kid, x5c).
_parsed: LRUCache[bytes, tuple[jwk.PrivateKey, str, tuple[str, ...] | None]] = LRUCache(CACHE_SIZE)


def clear_cache() -> None:
    """Forget every parsed key (e.g. before handing the process's memory to untrusted code)."""
    _parsed.clear()


def _digest(*parts: str | None) -> bytes:
    hasher = hashlib.sha256()
    for part in parts:
        data = (part or "").encode("utf-8")
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.digest()


def signing_key(client: Client, now: datetime | None = None) -> SigningKey:
    """The key that signs the client's private_key_jwt assertions at `now`.

    With `client_credentials`: the private key of those X509Credentials (opened with their password, else the
    client's `client_password`), `kid` = the RFC 7638 thumbprint and `x5c` = the certificate chain. Otherwise: the
    client's active rotated key (the newest whose publication delay has passed), with its own `alg`.

    Raises:
        KeyMaterialError: the client has no such key, the key cannot be opened, or it does not fit the algorithm.
    """
    if client.client_credentials:
        return _credentials_key(client)
    key = active_key(client.keys, "sig", now or datetime.now(UTC))
    if key is None:
        reason = "no active signing key: call RotateKeys() first"
        if client.keys:
            reason = "no signing key is active yet (RotateKeys() published one with a delay)"
        raise KeyMaterialError(client.application_name, reason)
    digest = _digest("jwk", key.private_jwk)
    entry = _parsed.get(digest)
    if entry is None:
        try:
            private_key = jwk.load_private_jwk(json.loads(key.private_jwk))
        except ValueError:
            raise KeyMaterialError(client.application_name, f"the stored key {key.kid} is malformed") from None
        entry = (private_key, key.kid, None)
        _parsed.put(digest, entry)
    return SigningKey(kid=key.kid, alg=key.alg, private_key=entry[0])


def _credentials_key(client: Client) -> SigningKey:
    credentials = client.x509_credentials
    alias = client.client_credentials
    if credentials is None or credentials.alias != alias:
        raise KeyMaterialError(client.application_name, f"the X509Credentials {alias!r} are not loaded or not stored")
    if not credentials.private_key:
        raise KeyMaterialError(client.application_name, f"the X509Credentials {alias!r} hold no private key")
    password = credentials.private_key_password or client.client_password
    digest = _digest("pem", credentials.private_key, password, credentials.certificate)
    entry = _parsed.get(digest)
    if entry is None:
        try:
            private_key = load_private_key(credentials.private_key, password)
            certificates = load_certificates(credentials.certificate)
        except (ValueError, TypeError):
            raise KeyMaterialError(
                client.application_name, f"the private key of X509Credentials {alias!r} cannot be opened"
            ) from None
        if not isinstance(private_key, jwk.PrivateKey):
            raise KeyMaterialError(client.application_name, f"X509Credentials {alias!r}: only RSA and EC keys sign")
        entry = (private_key, jwk.thumbprint(jwk.public_jwk(private_key.public_key())), jwk.x5c(certificates))
        _parsed.put(digest, entry)
    alg = client.client_metadata.token_endpoint_auth_signing_alg or DEFAULT_SIGNING_ALGORITHM
    if not jwk.fits(alg, entry[0]):
        raise KeyMaterialError(
            client.application_name,
            f"client_metadata.token_endpoint_auth_signing_alg {alg} does not fit the key of X509Credentials {alias!r}",
        )
    return SigningKey(kid=entry[1], alg=alg, private_key=entry[0], x5c=entry[2])
