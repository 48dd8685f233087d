"""JSON Web Keys with `cryptography` alone: generation per algorithm, (de)serialization, RFC 7638 thumbprints.

Pure functions, no I/O. Only the key types a client needs for its own keys: RSA (RS*, PS*, RSA-OAEP, RSA1_5) and
EC on the NIST curves (ES256/384/512).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_KEY_SIZE = 2048
RSA_SIGNING_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
#: JWS algorithm -> (JWK "crv", curve) for EC signing.
EC_SIGNING_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "ES256": ("P-256", ec.SECP256R1()),
    "ES384": ("P-384", ec.SECP384R1()),
    "ES512": ("P-521", ec.SECP521R1()),
}
_CURVES_BY_NAME = {crv: curve for crv, curve in EC_SIGNING_CURVES.values()}
#: Key management algorithms for which the client holds an RSA key pair to decrypt responses.
RSA_ENCRYPTION_ALGORITHMS = frozenset({"RSA-OAEP", "RSA-OAEP-256", "RSA1_5"})


def is_key_pair_signing_algorithm(alg: str) -> bool:
    return alg in RSA_SIGNING_ALGORITHMS or alg in EC_SIGNING_CURVES


def generate_private_key(alg: str) -> PrivateKey:
    """A new private key for a JWS signing or JWE key management algorithm; ValueError for any other."""
    if alg in RSA_SIGNING_ALGORITHMS or alg in RSA_ENCRYPTION_ALGORITHMS:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    if alg in EC_SIGNING_CURVES:
        return ec.generate_private_key(EC_SIGNING_CURVES[alg][1])
    raise ValueError(f"{alg} is not an algorithm with a key pair")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(size, "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(_unb64(text), "big")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK members of a key (no kid/use/alg)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    size = (key.curve.key_size + 7) // 8
    point = key.public_numbers()
    crv = next(name for name, curve in _CURVES_BY_NAME.items() if curve.name == key.curve.name)
    return {"kty": "EC", "crv": crv, "x": _int_b64(point.x, size), "y": _int_b64(point.y, size)}


def private_jwk(key: PrivateKey) -> dict[str, str]:
    """The full private JWK members of a key (no kid/use/alg)."""
    members = public_jwk(key.public_key())
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        members.update(
            d=_int_b64(numbers.d),
            p=_int_b64(numbers.p),
            q=_int_b64(numbers.q),
            dp=_int_b64(numbers.dmp1),
            dq=_int_b64(numbers.dmq1),
            qi=_int_b64(numbers.iqmp),
        )
    else:
        members["d"] = _int_b64(key.private_numbers().private_value, (key.curve.key_size + 7) // 8)
    return members


def load_private_jwk(jwk: dict[str, Any]) -> PrivateKey:
    """The `cryptography` private key of a private JWK (RSA with CRT members, or EC); ValueError if malformed."""
    try:
        if jwk["kty"] == "RSA":
            public = rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"]))
            return rsa.RSAPrivateNumbers(
                p=_b64_int(jwk["p"]),
                q=_b64_int(jwk["q"]),
                d=_b64_int(jwk["d"]),
                dmp1=_b64_int(jwk["dp"]),
                dmq1=_b64_int(jwk["dq"]),
                iqmp=_b64_int(jwk["qi"]),
                public_numbers=public,
            ).private_key()
        if jwk["kty"] == "EC":
            curve = _CURVES_BY_NAME[jwk["crv"]]
            point = ec.EllipticCurvePublicNumbers(_b64_int(jwk["x"]), _b64_int(jwk["y"]), curve)
            return ec.EllipticCurvePrivateNumbers(_b64_int(jwk["d"]), point).private_key()
    except (KeyError, TypeError) as error:
        raise ValueError("malformed private JWK") from error
    raise ValueError("unsupported JWK key type")


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members, sorted, without whitespace."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


def algorithm_fits_key(alg: str, key: PrivateKey | PublicKey) -> bool:
    """True when `alg` can sign with `key` (RSA for RS*/PS*, EC on the algorithm's curve for ES*)."""
    if alg in RSA_SIGNING_ALGORITHMS:
        return isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    if alg in EC_SIGNING_CURVES:
        curve = EC_SIGNING_CURVES[alg][1]
        return isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and key.curve.name == curve.name
    return False


def x5c(certificates: list[x509.Certificate]) -> tuple[str, ...]:
    """The JWK `x5c` member: each certificate's DER in standard (not url-safe) base64, leaf first (RFC 7517 §4.7)."""
    return tuple(
        base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
        for certificate in certificates
    )
