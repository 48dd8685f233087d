"""Independent JOSE oracles: what the tests compare oauth2store's output with.

Written from the RFC text with `hashlib`, `hmac` and `cryptography` only, never with oauth2store (nor python-jose),
so a bug in the library cannot hide behind the same bug here: base64url (RFC 7515 §2, RFC 7518 §2 Base64urlUInt),
RFC 7638 JWK thumbprints, and compact JWS signing and verification (RFC 7515 §7.1, RFC 7518 §3).
tests/test_oracles.py checks them against the RFCs' own examples.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

# -- base64url ---------------------------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """RFC 7515 §2: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of `b64url_encode` (padding restored, not required)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_json(value: Any) -> str:
    """A JSON value as a JWS segment."""
    return b64url_encode(json.dumps(value).encode())


def b64url_uint(value: int) -> str:
    """RFC 7518 §2 Base64urlUInt: the big-endian octets of a non-negative integer, as few as possible (0 is "AA")."""
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def uint_from_b64url(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


# -- JWKs and RFC 7638 thumbprints --------------------------------------------------------------------------------

# RFC 7638 §3.2: the required members of each key type, which alone make up the thumbprint.
_REQUIRED_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "oct": ("k", "kty")}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, in lexicographic order, without whitespace."""
    members = {name: jwk[name] for name in _REQUIRED_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def rsa_public_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """The required members of an RSA public JWK (RFC 7518 §6.3.1)."""
    numbers = key.public_numbers()
    return {"kty": "RSA", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}


def rsa_thumbprint(key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 SHA-256 thumbprint of an RSA public key."""
    return jwk_thumbprint(rsa_public_jwk(key))


def rsa_public_key(jwk: Mapping[str, str]) -> rsa.RSAPublicKey:
    """The RSA public key of a JWK's `n` and `e`."""
    return rsa.RSAPublicNumbers(uint_from_b64url(jwk["e"]), uint_from_b64url(jwk["n"])).public_key()


def rsa_private_key(jwk: Mapping[str, str]) -> rsa.RSAPrivateKey:
    """The RSA private key of a private JWK (RFC 7518 §6.3.2)."""
    public = rsa.RSAPublicNumbers(uint_from_b64url(jwk["e"]), uint_from_b64url(jwk["n"]))
    members = [uint_from_b64url(jwk[name]) for name in ("p", "q", "d", "dp", "dq", "qi")]
    return rsa.RSAPrivateNumbers(*members, public).private_key()


# -- compact JWS ----------------------------------------------------------------------------------------------------

_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_HMACS = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def _pss(digest: hashes.HashAlgorithm) -> padding.PSS:
    """RFC 7518 §3.5: MGF1 with the same hash, and a salt as long as the hash output."""
    return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)


def jws_signature(alg: str, key: Any, signing_input: bytes) -> bytes:
    """The JWS Signature of `signing_input` for HS*, RS*, PS* or ES* (ES*: R || S, RFC 7518 §3.4)."""
    family, size = alg[:2], alg[2:]
    if family == "HS":
        return hmac.new(key, signing_input, _HMACS[size]).digest()
    digest = _DIGESTS[size]()
    if family == "RS":
        return bytes(key.sign(signing_input, padding.PKCS1v15(), digest))
    if family == "PS":
        return bytes(key.sign(signing_input, _pss(digest), digest))
    if family == "ES":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        octets = (key.curve.key_size + 7) // 8
        return r.to_bytes(octets, "big") + s.to_bytes(octets, "big")
    raise ValueError(f"no oracle for alg {alg!r}")


def sign_compact(signing_input: str, alg: str, key: Any) -> str:
    """`signing_input` (the first two segments) with its signature appended."""
    return f"{signing_input}.{b64url_encode(jws_signature(alg, key, signing_input.encode()))}"


def compact_jws(header: Any, payload: Any, key: Any, alg: str | None = None) -> str:
    """A compact JWS of JSON `header` and `payload` (bytes are taken as the payload itself).

    The algorithm is the header's `alg` unless `alg` names it, so a header may carry any `alg` value at all.
    """
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return sign_compact(f"{b64url_json(header)}.{b64url_encode(body)}", alg or header["alg"], key)


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """A compact JWS's header and claims (parsed), its signing input and its signature (decoded)."""
    header, claims, signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(claims)),
        f"{header}.{claims}".encode(),
        b64url_decode(signature),
    )


def verify_jws(token: str, key: Any) -> dict[str, Any]:
    """Check a compact JWS's signature with `key` (a public key, or the secret for HS*) by its header's `alg`.

    Returns the claims; raises `cryptography.exceptions.InvalidSignature` when the signature does not verify.
    """
    header, claims, signing_input, signature = jws_parts(token)
    family, size = header["alg"][:2], header["alg"][2:]
    if family == "HS":
        if not hmac.compare_digest(signature, jws_signature(header["alg"], key, signing_input)):
            raise InvalidSignature
        return claims
    digest = _DIGESTS[size]()
    if family == "RS":
        key.verify(signature, signing_input, padding.PKCS1v15(), digest)
    elif family == "PS":
        key.verify(signature, signing_input, _pss(digest), digest)
    elif family == "ES":
        octets = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * octets:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:octets], "big"), int.from_bytes(signature[octets:], "big")
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(digest))
    else:
        raise ValueError(f"no oracle for alg {header['alg']!r}")
    return claims
