"""Client authentication strategies (pure) and the X509Credentials signing key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import unquote_plus

import pytest
from factories import TestCA, ec_key, rsa_key
from oracles import jws_parts, rsa_thumbprint, verify_jws
from sqlalchemy import update
from sqlalchemy.orm import Session

from oauth2store import Client, KeyMaterialError, SigningKey, X509Credentials, signing_key
from oauth2store._client_auth import JWT_BEARER, STRATEGIES, ClientIdentity, authenticate
from oauth2store._jwx.jws import sign

NOW = 1_800_000_000.0


def test_every_method_has_a_strategy() -> None:
    methods = {"none", "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"}
    assert set(STRATEGIES) == methods


def test_none_sends_only_the_client_id() -> None:
    credentials = authenticate(ClientIdentity("public-app", "none"), NOW)
    assert credentials.form == {"client_id": "public-app"} and credentials.headers == {}


def test_basic_form_encodes_id_and_secret_before_base64() -> None:
    identity = ClientIdentity("id with:colon", "client_secret_basic", client_secret="s3cr%t +/é")
    header = authenticate(identity, NOW).headers["Authorization"]
    assert header.startswith("Basic ")
    user, secret = base64.b64decode(header[6:]).decode().split(":")
    assert user == "id+with%3Acolon" and unquote_plus(user) == "id with:colon"
    assert unquote_plus(secret) == "s3cr%t +/é" and "%25" in secret and "+" in secret


def test_post_puts_the_secret_in_the_body() -> None:
    credentials = authenticate(ClientIdentity("c", "client_secret_post", client_secret="s"), NOW)
    assert credentials.form == {"client_id": "c", "client_secret": "s"}
    assert "'s'" not in repr(credentials) and "zzz" not in repr(ClientIdentity("c", client_secret="zzz"))


def test_secret_methods_without_a_secret_are_refused() -> None:
    with pytest.raises(KeyMaterialError, match="no client_secret"):
        authenticate(ClientIdentity("c", "client_secret_basic"), NOW)


def test_client_secret_jwt_is_an_hs256_assertion_keyed_by_the_secret() -> None:
    options = {"client_secret": "k" * 32, "audience": "https://as/token", "jwt_interval": 90, "signing_alg": "RS256"}
    identity = ClientIdentity("c", "client_secret_jwt", **options)
    first = authenticate(identity, NOW).form
    second = authenticate(identity, NOW).form
    assert first["client_assertion_type"] == JWT_BEARER
    header, claims, signed, signature = jws_parts(first["client_assertion"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert signature == hmac.new(b"k" * 32, signed, hashlib.sha256).digest()
    assert claims["iss"] == claims["sub"] == "c" and claims["aud"] == "https://as/token"
    assert claims["iat"] == int(NOW) and claims["exp"] == int(NOW) + 90
    assert claims["jti"] != jws_parts(second["client_assertion"])[1]["jti"]


def test_client_secret_jwt_honours_an_hs_signing_alg() -> None:
    identity = ClientIdentity("c", "client_secret_jwt", client_secret="k", audience="a", signing_alg="HS512")
    header, _, signed, signature = jws_parts(authenticate(identity, NOW).form["client_assertion"])
    assert header["alg"] == "HS512" and signature == hmac.new(b"k", signed, hashlib.sha512).digest()


def test_assertion_without_audience_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match="audience"):
        authenticate(ClientIdentity("c", "client_secret_jwt", client_secret="k"), NOW)


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256"])
def test_private_key_jwt_rsa(alg: str) -> None:
    key = rsa_key()
    identity = ClientIdentity("c", "private_key_jwt", audience="https://as", signing_key=SigningKey("kid1", alg, key))
    assertion = authenticate(identity, NOW).form["client_assertion"]
    header, claims, _, _ = jws_parts(assertion)
    assert header == {"alg": alg, "typ": "JWT", "kid": "kid1"}
    verify_jws(assertion, key.public_key())  # RSASSA-PKCS1-v1_5 or RSASSA-PSS with the header's hash
    assert claims["iss"] == "c" and claims["aud"] == "https://as"


def test_private_key_jwt_es256() -> None:
    key = ec_key()
    token = sign({"a": 1}, "ES256", key, kid="e")
    _, _, _, signature = jws_parts(token)
    assert len(signature) == 64  # R || S, 32 octets each (RFC 7518 §3.4)
    verify_jws(token, key.public_key())


def test_wrong_key_for_algorithm_is_refused() -> None:
    key = ec_key()
    with pytest.raises(KeyMaterialError, match="cannot sign RS256"):
        sign({}, "RS256", key)
    with pytest.raises(KeyMaterialError, match="unsupported"):
        sign({}, "none", b"x")
    with pytest.raises(KeyMaterialError, match="no signing key"):
        authenticate(ClientIdentity("c", "private_key_jwt", audience="a"), NOW)


def test_signing_key_from_x509_credentials(session: Session, make_client: Callable[..., Client]) -> None:
    ca = TestCA()
    issued = ca.issue("orders", server=False)
    credentials = {"certificate": issued.certificate, "private_key": issued.key_pem("pw"), "private_key_password": "pw"}
    session.add(X509Credentials(alias="orders-cert", **credentials))
    session.flush()
    client = make_client(client_credentials="orders-cert")
    client.client_metadata.token_endpoint_auth_signing_alg = "RS384"
    key = signing_key(client)
    assert key.alg == "RS384"
    assert key.kid == rsa_thumbprint(issued.key.public_key())
    assert key.x5c is not None and len(key.x5c) == 2  # leaf and CA
    assert signing_key(client).private_key is key.private_key  # parsed once, then cached
    assert "PRIVATE" not in repr(key) and "private_key=" not in repr(key)


def test_signing_key_password_falls_back_to_client_password(
    session: Session, make_client: Callable[..., Client]
) -> None:
    issued = TestCA().issue("orders", server=False)
    key = {"private_key": issued.key_pem("pw2"), "private_key_password": "pw2"}
    credentials = X509Credentials(alias="c2", certificate=issued.certificate, **key)
    session.add(credentials)
    session.flush()
    # IRIS may keep the password on the client (ClientPassword) only: write the row as IRIS would have.
    session.execute(update(X509Credentials).where(X509Credentials.alias == "c2").values(private_key_password=None))
    session.expire(credentials)
    client = make_client(client_credentials="c2", client_password="pw2")
    assert signing_key(client).kid == rsa_thumbprint(issued.key.public_key())
    client.client_password = "wrong-password-7"
    with pytest.raises(KeyMaterialError, match="cannot be opened") as caught:
        signing_key(client)
    assert "wrong-password-7" not in str(caught.value)


def test_signing_key_without_any_key(make_client: Callable[..., Client]) -> None:
    with pytest.raises(KeyMaterialError, match=r"RotateKeys\(\) first"):
        signing_key(make_client())
