"""The oracles (tests/oracles.py) against the RFCs' own examples, and able to refuse: what the other tests trust."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from factories import ec_key, rsa_key
from oracles import (
    b64url_decode,
    b64url_encode,
    b64url_uint,
    compact_jws,
    jwk_thumbprint,
    jws_parts,
    rsa_public_jwk,
    rsa_public_key,
    rsa_thumbprint,
    sign_compact,
    verify_jws,
)

# RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
    "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-k"
    "EgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# RFC 7515 Appendix A.1: an HS256 JWS, its key and its signature.
RFC7515_A1_SIGNING_INPUT = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
)
RFC7515_A1_KEY = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
RFC7515_A1_SIGNATURE = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_rfc7638_thumbprint_helper_matches_the_rfc_example() -> None:
    public = rsa_public_key({"n": RFC7638_N, "e": "AQAB"})
    assert rsa_thumbprint(public) == RFC7638_THUMBPRINT
    assert jwk_thumbprint({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}) == (
        RFC7638_THUMBPRINT
    )
    assert rsa_public_jwk(public) == {"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}


def test_base64url() -> None:
    assert b64url_uint(65537) == "AQAB"  # RFC 7518 §6.3.1.2
    assert b64url_uint(0) == "AA"  # RFC 7518 §2: zero is one octet
    assert b64url_encode(b"\xfb\xff") == "-_8"  # the URL-safe alphabet, no padding
    assert b64url_decode("-_8") == b"\xfb\xff"


def test_hs256_matches_rfc7515_appendix_a1() -> None:
    key = b64url_decode(RFC7515_A1_KEY)
    token = sign_compact(RFC7515_A1_SIGNING_INPUT, "HS256", key)
    assert token == f"{RFC7515_A1_SIGNING_INPUT}.{RFC7515_A1_SIGNATURE}"
    assert verify_jws(token, key) == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    with pytest.raises(InvalidSignature):
        verify_jws(token, key[:-1])


@pytest.mark.parametrize("alg", ["RS256", "RS384", "PS256", "PS512", "ES256", "ES384", "HS256"])
def test_what_the_oracle_signs_it_verifies_and_nothing_else(alg: str) -> None:
    if alg.startswith("HS"):
        key, public, other = b"k" * 32, b"k" * 32, b"j" * 32
    elif alg.startswith("ES"):
        curve = ec.SECP256R1() if alg == "ES256" else ec.SECP384R1()
        key = ec_key(curve)
        public, other = key.public_key(), ec_key(curve).public_key()
    else:
        key = rsa_key()
        public, other = key.public_key(), rsa_key().public_key()
    token = compact_jws({"alg": alg, "kid": "k"}, {"sub": "svc"}, key)
    assert jws_parts(token)[0] == {"alg": alg, "kid": "k"}
    assert verify_jws(token, public) == {"sub": "svc"}
    with pytest.raises(InvalidSignature):
        verify_jws(token, other)
    header, _, signature = token.split(".")
    tampered = f"{header}.{b64url_encode(b'{}')}.{signature}"
    with pytest.raises(InvalidSignature):
        verify_jws(tampered, public)
