"""JWS verification and claim checks: real keys, real signatures, and the classic forgeries refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from factories import ec_key, key_pem, public_key_pem, rsa_key
from jose import jwk as jose_jwk
from jose import jws as jose_jws
from oracles import b64url_encode, b64url_json, compact_jws

from oauth2store._errors import JWKSError, JWTValidationError
from oauth2store._jwx.jwk import KeySet
from oauth2store._jwx.jws import verify as verify_signature
from oauth2store._jwx.jwt import check_claims

ISSUER = "https://as.example.com"


def rsa_pair(kid: str) -> tuple[dict[str, Any], str]:
    pem = key_pem(rsa_key())
    public = jose_jwk.construct(pem, "RS256").public_key().to_dict()
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}, pem


def ec_pair(kid: str, curve: ec.EllipticCurve, alg: str) -> tuple[dict[str, Any], str]:
    pem = key_pem(ec_key(curve))
    public = jose_jwk.construct(pem, alg).public_key().to_dict()
    return {**public, "kid": kid, "use": "sig"}, pem


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[dict[str, Any], str]]:
    return {"rsa": rsa_pair("rsa-1"), "ec": ec_pair("ec-1", ec.SECP256R1(), "ES256")}


def sign(pem: str, claims: dict[str, Any], alg: str = "RS256", kid: str | None = "rsa-1") -> str:
    headers = {"kid": kid} if kid is not None else None
    return jose_jws.sign(claims, pem, algorithm=alg, headers=headers)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"iss": ISSUER, "aud": "api", "exp": now + 300, "iat": now, "sub": "svc"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_valid_rsa_and_ec_tokens(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    key_set = KeySet({"keys": [keys["rsa"][0], keys["ec"][0]]})
    assert verify_signature(sign(keys["rsa"][1], claims()), key_set, ["RS256"])["sub"] == "svc"
    token = sign(keys["ec"][1], claims(), alg="ES256", kid="ec-1")
    assert verify_signature(token, key_set, ["ES256", "RS256"])["iss"] == ISSUER


def test_key_without_kid_is_chosen_only_when_unambiguous(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    token = sign(keys["rsa"][1], claims(), kid=None)
    assert verify_signature(token, KeySet({"keys": [keys["rsa"][0]]}), ["RS256"])
    second, _ = rsa_pair("rsa-2")
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(token, KeySet({"keys": [keys["rsa"][0], second]}), ["RS256"])
    assert caught.value.check == "kid"


def test_tampered_payload(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    header, _payload, signature = sign(keys["rsa"][1], claims()).split(".")
    forged = ".".join([header, b64url_json(claims(sub="admin")), signature])
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(forged, KeySet({"keys": [keys["rsa"][0]]}), ["RS256"])
    assert caught.value.check == "signature"
    assert forged not in str(caught.value)


def test_alg_none_is_refused(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    token = ".".join([b64url_encode(b'{"alg":"none","kid":"rsa-1"}'), b64url_json(claims()), ""])
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(token, KeySet({"keys": [keys["rsa"][0]]}), ["RS256", "none"])
    assert caught.value.check == "alg"


def test_hmac_with_the_public_key_is_refused(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    """The alg-confusion forgery: an HS256 token whose secret is the server's public key."""
    private = serialization.load_pem_private_key(keys["rsa"][1].encode(), None)
    token = compact_jws({"alg": "HS256", "kid": "rsa-1"}, claims(), public_key_pem(private))
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(token, KeySet({"keys": [keys["rsa"][0]]}), ["RS256", "HS256"])
    assert caught.value.check == "alg"


def test_algorithm_must_fit_the_key(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    token = sign(keys["ec"][1], claims(), alg="ES256", kid="rsa-1")
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(token, KeySet({"keys": [keys["rsa"][0]]}), ["ES256"])
    assert caught.value.check == "alg"


def test_algorithm_not_in_the_allow_list(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    with pytest.raises(JWTValidationError, match="'RS256' is not accepted"):
        verify_signature(sign(keys["rsa"][1], claims()), KeySet({"keys": [keys["rsa"][0]]}), ["ES256"])


def test_unknown_kid(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    with pytest.raises(JWTValidationError) as caught:
        verify_signature(sign(keys["rsa"][1], claims(), kid="other"), KeySet({"keys": [keys["rsa"][0]]}), ["RS256"])
    assert caught.value.check == "kid"


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ({"kids": []}, "list of keys"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "kty must be RSA or EC"),
        ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "ES256"}]}, "does not fit"),
        ({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}, "not a usable RSA public key"),
    ],
)
def test_unusable_jwks(jwks: dict[str, Any], message: str) -> None:
    with pytest.raises(JWKSError, match=message):
        KeySet(jwks)


def test_private_keys_are_refused(keys: dict[str, tuple[dict[str, Any], str]]) -> None:
    private = jose_jwk.construct(keys["rsa"][1], "RS256").to_dict()
    with pytest.raises(JWKSError, match="private key material"):
        KeySet({"keys": [private]})


class TestClaims:
    NOW = 1_700_000_000.0

    def check(self, **overrides: Any) -> None:
        values = {"iss": ISSUER, "aud": ["api", "other"], "exp": self.NOW + 60, "iat": self.NOW, "nbf": self.NOW}
        values.update(overrides)
        present = {k: v for k, v in values.items() if v is not None}
        check_claims(present, issuer=ISSUER, audience="api", now=self.NOW, leeway=30)

    def test_valid(self) -> None:
        self.check()
        self.check(exp=self.NOW - 29, aud="api")  # within the leeway

    @pytest.mark.parametrize(
        ("overrides", "failed"),
        [
            ({"exp": None}, "exp"),
            ({"exp": "soon"}, "exp"),
            ({"exp": NOW - 30}, "exp"),
            ({"nbf": NOW + 31}, "nbf"),
            ({"iat": NOW + 31}, "iat"),
            ({"iss": "https://evil.example.com"}, "iss"),
            ({"iss": None}, "iss"),
            ({"aud": "other"}, "aud"),
            ({"aud": None}, "aud"),
        ],
    )
    def test_failures(self, overrides: dict[str, Any], failed: str) -> None:
        with pytest.raises(JWTValidationError) as caught:
            self.check(**overrides)
        assert caught.value.check == failed
