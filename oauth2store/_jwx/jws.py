"""Compact JWS (RFC 7515 §7.1): signing client assertions with `cryptography`, verifying server JWTs with python-jose.

Signing stays hand-written. The algorithm is always the caller's explicit choice, checked against the key through
the JWA table, so there is no "alg from the token" path to misuse; python-jose cannot sign PS256/384/512 at all
(its key registry has no RSASSA-PSS), which `private_key_jwt` needs; and speed gives no reason to switch.
`bench/bench_jws.py`, time per assertion against python-jose's `jws.sign` with its key object made once (RSA-2048,
P-256, same process): RS256 0.99-1.04x, ES256 1.00-1.07x (CPU time over alternating rounds: 0.99x and 1.01x);
PS256: python-jose cannot sign. The private-key operation is the whole cost either way.

Verification goes through python-jose (the only module that imports it), behind `verify`, which always passes the
one algorithm it allows: the token's `alg` must be in the caller's allow-list and be an asymmetric algorithm of the
table (`none` and HMAC are refused: a server's JWKS holds public keys only), the key is chosen by `kid` before
verification, and its type and curve must fit the algorithm (no RSA key used as an HMAC secret).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .._errors import JWTValidationError, KeyMaterialError
from . import algorithms, base64url, jwk
from .algorithms import Family, SigningAlgorithm

if TYPE_CHECKING:
    from jose.backends.base import Key
from .jwt import json_object, unverified_header


@dataclass(frozen=True)
class SigningKey:
    """What a client assertion is signed with: the JWS header's `kid` and `alg` (and `x5c` for a certificate)."""

    kid: str
    alg: str
    private_key: jwk.PrivateKey = field(repr=False)
    x5c: tuple[str, ...] | None = None


def _unfit(entry: SigningAlgorithm, key: object) -> KeyMaterialError:
    return KeyMaterialError(None, f"a {type(key).__name__} cannot sign {entry.name}")


def _hmac(entry: SigningAlgorithm, key: object, data: bytes) -> bytes:
    if not isinstance(key, bytes):
        raise KeyMaterialError(None, f"{entry.name} needs a shared secret")
    return hmac.digest(key, data, entry.hash.name)


def _rsa(entry: SigningAlgorithm, key: object) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _unfit(entry, key)
    return key


def _pkcs1(entry: SigningAlgorithm, key: object, data: bytes) -> bytes:
    return _rsa(entry, key).sign(data, padding.PKCS1v15(), entry.hash)


def _pss(entry: SigningAlgorithm, key: object, data: bytes) -> bytes:
    pss = padding.PSS(mgf=padding.MGF1(entry.hash), salt_length=padding.PSS.DIGEST_LENGTH)
    return _rsa(entry, key).sign(data, pss, entry.hash)


def _ecdsa(entry: SigningAlgorithm, key: object, data: bytes) -> bytes:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not jwk.fits(entry.name, key):
        raise _unfit(entry, key)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(entry.hash)))
    size = (entry.signature_size or 0) // 2
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


_SIGNERS: Mapping[Family, Callable[[SigningAlgorithm, object, bytes], bytes]] = {
    Family.HMAC: _hmac,
    Family.RSASSA_PKCS1: _pkcs1,
    Family.RSASSA_PSS: _pss,
    Family.ECDSA: _ecdsa,
}


def _segment(value: Mapping[str, Any]) -> str:
    return base64url.encode(json.dumps(value, separators=(",", ":")).encode())


def sign(claims: Mapping[str, Any], alg: str, key: object, *, kid: str | None = None) -> str:
    """The compact JWS of `claims`, signed with `alg` (HS* take bytes, RS*/PS*/ES* a cryptography private key).

    Raises:
        KeyMaterialError: the algorithm is unknown or does not fit the key.
    """
    entry = algorithms.signing(alg)
    if entry is None:
        raise KeyMaterialError(None, f"unsupported JWS algorithm {alg!r}")
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = _SIGNERS[entry.family](entry, key, signing_input.encode("ascii"))
    return f"{signing_input}.{base64url.encode(signature)}"


#: What `verify` can verify: the asymmetric algorithms of the table except RSASSA-PSS, which python-jose lacks (a
#: test checks this against python-jose's key classes); the other algorithms are refused as "alg". Written out
#: rather than asked of python-jose, which is loaded only to verify (it costs start-up time to every process).
VERIFIABLE = frozenset(
    name for name, entry in algorithms.SIGNING.items() if entry.has_key_pair and entry.family != Family.RSASSA_PSS
)


@cache
def _jose_keys() -> Mapping[str, type[Key]]:
    """python-jose's key class for each algorithm of `VERIFIABLE`."""
    from jose import jwk as jose_jwk  # loaded only to verify: importing oauth2store must not pay for it

    return {name: key_class for name in VERIFIABLE if (key_class := jose_jwk.get_key(name)) is not None}


def _shown(value: object) -> str:
    """A header value for an error message: short strings as they are, anything else by its type."""
    return repr(value) if isinstance(value, str) and len(value) <= 64 else f"a {type(value).__name__}"


def verify(
    token: object, keys: jwk.KeySet, accepted: Collection[str], header: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The claims of `token` after its signature checked out with the key its header names.

    `header` is the token's header as `unverified_header` returned it, when the caller has it already.

    Raises:
        JWTValidationError: with `check` "format", "crit", "alg", "kid" or "signature" naming what failed.
    """
    header = unverified_header(token) if header is None else header
    if not isinstance(token, str):
        raise JWTValidationError("format", "is not a compact JWS string")
    alg = header.get("alg")
    if not algorithms.has_key_pair(alg) or alg not in accepted:
        allowed = ", ".join(sorted(a for a in accepted if algorithms.has_key_pair(a))) or "none"
        raise JWTValidationError("alg", f"{_shown(alg)} is not accepted (accepted: {allowed})")
    if alg not in VERIFIABLE:
        raise JWTValidationError("alg", f"{alg!r} cannot be verified here (python-jose has no RSASSA-PSS)")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JWTValidationError("kid", f"must be a string (got {_shown(kid)})")
    key = keys.select(kid, alg)
    if key is None:
        raise JWTValidationError("kid", f"no key {_shown(kid)} in the server's JWKS")
    prepared = key.prepared.get(alg)  # set only once the key was found to fit `alg`
    if prepared is None:
        if not key.fits(alg):
            raise JWTValidationError("alg", f"{alg!r} does not fit key {_shown(kid)}")
        prepared = key.prepared[alg] = _jose_keys()[alg](key.key, alg)
    from jose import jws as jose_jws  # loaded only to verify: importing oauth2store must not pay for it
    from jose.exceptions import JOSEError

    try:
        payload = jose_jws.verify(token, cast("Key", prepared), algorithms=[alg])
    except JOSEError as error:
        raise JWTValidationError("signature", "does not verify") from error
    return json_object(payload, "payload")
