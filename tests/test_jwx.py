"""The private JOSE package: one algorithm table, strict base64url, key sets, and fuzzed tokens.

Whatever a token holds (any text, any header, any claims), validation ends in a result or a JWTValidationError.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from factories import ec_key, key_pem, new_client, new_server, rsa_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jose import jwk as jose_jwk
from jose import jws as jose_jws

from oauth2store import Client, JWTValidationError
from oauth2store._errors import JWKSError, KeyMaterialError
from oauth2store._jwx import algorithms, base64url, jwk, jws
from oauth2store._types import SIGNING_ALGORITHMS

KEY = rsa_key()
PEM = key_pem(KEY)
PUBLIC_JWK = {**jose_jwk.construct(PEM, "RS256").public_key().to_dict(), "kid": "k1"}
ISSUER = "https://as.example.com"
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def new_public_jwk() -> dict[str, str]:
    return jwk.public_jwk(rsa_key().public_key())


def test_the_table_covers_the_iris_valuelist() -> None:
    """IRIS's `*_signed_response_alg` VALUELIST and RFC 7518 §3.1 (less `none`) name the same algorithms."""
    assert set(SIGNING_ALGORITHMS) == set(algorithms.SIGNING)


@pytest.mark.parametrize("alg", sorted(algorithms.SIGNING))
def test_every_algorithm_signs_with_the_key_the_table_describes(alg: str) -> None:
    entry = algorithms.SIGNING[alg]
    key: Any = b"k" * 64 if not entry.has_key_pair else jwk.generate_private_key(alg)
    token = jws.sign({"a": 1}, alg, key, kid="x")
    header, _payload, signature = token.split(".")
    assert json.loads(base64url.decode(header)) == {"alg": alg, "typ": "JWT", "kid": "x"}
    if entry.family is algorithms.Family.ECDSA:
        assert len(base64url.decode(signature)) == entry.signature_size
        assert entry.curve is not None and key.curve.name == entry.curve.name
    if entry.kty == "RSA":
        assert isinstance(key, rsa.RSAPrivateKey)


def test_key_management_algorithms_get_rsa_keys_and_hmac_gets_none() -> None:
    assert all(isinstance(jwk.generate_private_key(alg), rsa.RSAPrivateKey) for alg in algorithms.KEY_MANAGEMENT)
    for alg in ("HS256", "none", "A128KW", "dir"):
        with pytest.raises(ValueError, match="not an algorithm with a key pair"):
            jwk.generate_private_key(alg)


def test_an_ec_key_on_another_curve_cannot_sign() -> None:
    with pytest.raises(KeyMaterialError, match="cannot sign ES256"):
        jws.sign({}, "ES256", ec_key(ec.SECP384R1()))


@pytest.mark.parametrize("text", ["a!b", "ab=", "a b", "é", "abcde"])
def test_base64url_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        base64url.decode(text)


def test_keys_for_other_uses_and_algorithms_do_not_spoil_a_jwks() -> None:
    """A JWKS may also publish encryption keys and PS256 keys: the RS256 key beside them still verifies."""
    encryption = {**new_public_jwk(), "kid": "e", "use": "enc", "alg": "RSA-OAEP"}
    pss = {**new_public_jwk(), "kid": "p", "alg": "PS256"}
    keys = jwk.KeySet({"keys": [PUBLIC_JWK, encryption, pss]})
    token = jose_jws.sign({"sub": "svc"}, PEM, algorithm="RS256", headers={"kid": "k1"})
    assert jws.verify(token, keys, ["RS256"]) == {"sub": "svc"}
    with pytest.raises(JWTValidationError) as caught:
        jws.verify(jose_jws.sign({}, PEM, algorithm="RS256", headers={"kid": "e"}), keys, ["RS256"])
    assert caught.value.check == "alg"  # an encryption key never verifies a signature


def test_pss_tokens_are_refused_as_an_algorithm_python_jose_cannot_verify() -> None:
    keys = jwk.KeySet({"keys": [PUBLIC_JWK]})
    header = base64url.encode(json.dumps({"alg": "PS256", "kid": "k1"}).encode())
    signing_input = f"{header}.{base64url.encode(b'{}')}"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = KEY.sign(signing_input.encode(), pss, hashes.SHA256())
    with pytest.raises(JWTValidationError, match="cannot be verified") as caught:
        jws.verify(f"{signing_input}.{base64url.encode(signature)}", keys, ["PS256"])
    assert caught.value.check == "alg"


@pytest.mark.parametrize("kid", [1, ["k1"], {"k": 1}, True])
def test_a_kid_that_is_not_a_string_is_refused(kid: Any) -> None:
    token = jose_jws.sign({}, PEM, algorithm="RS256", headers={"kid": kid})
    with pytest.raises(JWTValidationError) as caught:
        jws.verify(token, jwk.KeySet({"keys": [PUBLIC_JWK]}), ["RS256"])
    assert caught.value.check == "kid"


def test_an_ec_point_off_the_curve_is_refused() -> None:
    point = jwk.public_jwk(ec_key().public_key())
    point["y"] = point["x"]
    with pytest.raises(JWKSError, match="not a usable EC public key"):
        jwk.KeySet({"keys": [point]})


# --- fuzzing: validate_jwt on a detached client whose server holds the JWKS (no network) ------------------------

CLIENT: Client = new_client(new_server(issuer_endpoint=ISSUER, public_jwks={"keys": [PUBLIC_JWK]}), client_id="api")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
ALGS = st.sampled_from(["RS256", "ES256", "PS256", "HS256", "none", "RS1", ""]) | JSON


def outcome(token: Any) -> dict[str, Any] | None:
    """The claims when the token validates, None when it is refused as a JWTValidationError."""
    try:
        return CLIENT.validate_jwt(token, audience="api", algorithms=["RS256", "ES256", "PS256"])
    except JWTValidationError as refused:
        assert refused.check and (not isinstance(token, str) or len(token) < 20 or token not in str(refused))
        return None


def signed(header: dict[str, Any], payload: bytes, signature: bytes | None = None) -> str:
    signing_input = f"{base64url.encode(json.dumps(header).encode())}.{base64url.encode(payload)}"
    if signature is None:
        signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64url.encode(signature)}"


@FUZZ
@given(st.text() | st.binary() | st.none() | st.integers() | JSON)
def test_any_value_as_a_token(token: Any) -> None:
    assert outcome(token) is None


@FUZZ
@given(st.lists(st.text(alphabet="ABCabc012-_.=+/!", max_size=40), min_size=1, max_size=5).map(".".join))
def test_any_dotted_text(token: str) -> None:
    assert outcome(token) is None


@FUZZ
@given(st.dictionaries(st.text(max_size=6), JSON, max_size=4), ALGS, JSON, st.binary(max_size=8) | st.none())
def test_any_header(extra: dict[str, Any], alg: Any, kid: Any, signature: bytes | None) -> None:
    claims = {"iss": ISSUER, "aud": "api", "exp": time.time() + 60}
    header = {**extra, "alg": alg, "kid": kid}
    result = outcome(signed(header, json.dumps(claims).encode(), signature))
    accepted = alg == "RS256" and kid in ("k1", None) and signature is None and "crit" not in extra
    assert (result is not None) == accepted


CLAIM_VALUES = JSON | st.sampled_from([ISSUER, "api", ["api", 1], time.time() + 60, 10**400, float("nan")])


@FUZZ
@given(st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "iss", "aud", "sub"]), CLAIM_VALUES) | JSON)
def test_any_claims(claims: Any) -> None:
    result = outcome(signed({"alg": "RS256", "kid": "k1"}, json.dumps(claims).encode()))
    if result is not None:
        assert result["iss"] == ISSUER and result["exp"] > time.time() - 60


@FUZZ
@given(st.binary(max_size=64))
def test_any_payload_bytes(payload: bytes) -> None:
    assert outcome(signed({"alg": "RS256", "kid": "k1"}, payload)) is None


def test_verifiable_algorithms_are_those_python_jose_has_a_key_class_for() -> None:
    """`VERIFIABLE` is written out (python-jose is loaded only to verify); it must be what python-jose can do."""
    asymmetric = [name for name, entry in algorithms.SIGNING.items() if entry.has_key_pair]
    assert {name for name in asymmetric if jose_jwk.get_key(name) is not None} == jws.VERIFIABLE
