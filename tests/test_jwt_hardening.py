"""validate_jwt on hostile input: every malformed token is a JWTValidationError, never anything else."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from conftest import new_client, new_server
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwk as jose_jwk
from jose import jws as jose_jws

from oauth2store import Client, JWTValidationError

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_JWK = {**jose_jwk.construct(PEM, "RS256").public_key().to_dict(), "kid": "k1", "alg": "RS256", "use": "sig"}
JWKS = {"keys": [PUBLIC_JWK]}
ISSUER = "https://as.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": "orders", "sub": "svc", "iat": now, "exp": now + 300, **overrides}


def token(payload: dict[str, Any] | str | None = None, **header: Any) -> str:
    """A token signed with KEY; `header` members are added to (or replace) kid k1."""
    body = claims() if payload is None else payload.encode() if isinstance(payload, str) else payload
    return jose_jws.sign(body, PEM, algorithm="RS256", headers={"kid": "k1", **header})


def with_header(header: Any, payload: dict[str, Any] | None = None) -> str:
    """A token whose header is exactly `header`, signed over that header (so only the header can be wrong)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload or claims()).encode())}"
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def client() -> Client:
    """A detached client whose server definition holds the JWKS and has no jwks_uri (no refresh, no network)."""
    return new_client(new_server(issuer_endpoint=ISSUER, public_jwks=JWKS), client_id="orders")


def refused(client: Client, value: Any, **options: Any) -> JWTValidationError:
    with pytest.raises(JWTValidationError) as caught:
        client.validate_jwt(value, **options)
    return caught.value


def test_a_good_token_validates(client: Client) -> None:
    assert client.validate_jwt(token())["sub"] == "svc"


@pytest.mark.parametrize("alg", [["RS256"], {"RS256": True}, 256, None, True])
def test_an_alg_that_is_not_a_string_is_refused(client: Client, alg: Any) -> None:
    assert refused(client, with_header({"alg": alg, "kid": "k1"})).check == "alg"


@pytest.mark.parametrize("value", [None, b"a.b.c", 42, ["a", "b", "c"], token().encode()])
def test_a_token_that_is_not_a_string_is_refused(client: Client, value: Any) -> None:
    assert refused(client, value).check == "format"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        token() + ".x",
        "!!!." + token().split(".", 1)[1],
        token()[:-2] + "*=",  # a character outside base64url in the signature
        "e30." + token().split(".", 1)[1],  # {} : a header without alg
        b64(b"[1,2]") + "." + token().split(".", 1)[1],
        b64(b"\xff\xfe") + "." + token().split(".", 1)[1],
        b64(b"[" * 100_000) + "." + token().split(".", 1)[1],
    ],
)
def test_malformed_compact_tokens_are_refused(client: Client, value: str) -> None:
    assert refused(client, value).check in ("format", "alg")


def test_malformed_payloads_are_refused(client: Client) -> None:
    assert refused(client, token("[1, 2]")).check == "format"
    assert refused(client, token("not json")).check == "format"
    assert refused(client, token("[" * 100_000)).check == "format"


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "b64", ["urn:example:unknown"]])
def test_a_crit_header_is_refused(client: Client, crit: Any) -> None:
    """RFC 7515 §4.1.11: a recipient that does not understand every listed extension must refuse the JWS."""
    assert refused(client, token(crit=crit)).check == "crit"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400])
def test_numeric_dates_must_be_finite(client: Client, claim: str, number: str) -> None:
    values = {k: v for k, v in claims().items() if k != claim}
    payload = json.dumps(values)[:-1] + f', "{claim}": {number}}}'
    assert refused(client, token(payload)).check == claim
