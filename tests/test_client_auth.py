"""Client authentication strategies (pure) and the X509Credentials signing key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from local_servers import TestCA, rsa_thumbprint
from sqlalchemy import update
from sqlalchemy.orm import Session

from oauth2store import Client, KeyMaterialError, SigningKey, X509Credentials, signing_key
from oauth2store._client_auth import JWT_BEARER, STRATEGIES, ClientIdentity, authenticate
from oauth2store._jwx.jws import sign

NOW = 1_800_000_000.0


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    header, claims, signature = token.split(".")
    return (
        json.loads(b64decode(header)),
        json.loads(b64decode(claims)),
        f"{header}.{claims}".encode(),
        b64decode(signature),
    )


def test_every_method_has_a_strategy() -> None:
    assert set(STRATEGIES) == {"none", "client_secret_basic", "client_secret_post", "client_secret_jwt",
                               "private_key_jwt"}  # fmt: skip


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
    identity = ClientIdentity("c", "client_secret_jwt", client_secret="k" * 32, audience="https://as/token",
                              jwt_interval=90, signing_alg="RS256")  # fmt: skip
    first = authenticate(identity, NOW).form
    second = authenticate(identity, NOW).form
    assert first["client_assertion_type"] == JWT_BEARER
    header, claims, signed, signature = parts(first["client_assertion"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert signature == hmac.new(b"k" * 32, signed, hashlib.sha256).digest()
    assert claims["iss"] == claims["sub"] == "c" and claims["aud"] == "https://as/token"
    assert claims["iat"] == int(NOW) and claims["exp"] == int(NOW) + 90
    assert claims["jti"] != parts(second["client_assertion"])[1]["jti"]


def test_client_secret_jwt_honours_an_hs_signing_alg() -> None:
    identity = ClientIdentity("c", "client_secret_jwt", client_secret="k", audience="a", signing_alg="HS512")
    header, _, signed, signature = parts(authenticate(identity, NOW).form["client_assertion"])
    assert header["alg"] == "HS512" and signature == hmac.new(b"k", signed, hashlib.sha512).digest()


def test_assertion_without_audience_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match="audience"):
        authenticate(ClientIdentity("c", "client_secret_jwt", client_secret="k"), NOW)


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256"])
def test_private_key_jwt_rsa(alg: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    identity = ClientIdentity("c", "private_key_jwt", audience="https://as", signing_key=SigningKey("kid1", alg, key))
    header, claims, signed, signature = parts(authenticate(identity, NOW).form["client_assertion"])
    assert header == {"alg": alg, "typ": "JWT", "kid": "kid1"}
    digest = hashes.SHA256() if alg.endswith("256") else hashes.SHA512()
    pad = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(padding.MGF1(digest), digest.digest_size)
    key.public_key().verify(signature, signed, pad, digest)
    assert claims["iss"] == "c" and claims["aud"] == "https://as"


def test_private_key_jwt_es256() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = sign({"a": 1}, "ES256", key, kid="e")
    _, _, signed, signature = parts(token)
    assert len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))


def test_wrong_key_for_algorithm_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyMaterialError, match="cannot sign RS256"):
        sign({}, "RS256", key)
    with pytest.raises(KeyMaterialError, match="unsupported"):
        sign({}, "none", b"x")
    with pytest.raises(KeyMaterialError, match="no signing key"):
        authenticate(ClientIdentity("c", "private_key_jwt", audience="a"), NOW)


def test_rfc7638_thumbprint_helper_matches_the_rfc_example() -> None:
    # RFC 7638 §3.1: the thumbprint of the example RSA key.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
        "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-k"
        "EgU8awapJzKnqDKgw"
    )
    public = rsa.RSAPublicNumbers(65537, int.from_bytes(b64decode(n), "big")).public_key()
    assert rsa_thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_signing_key_from_x509_credentials(session: Session, make_client: Callable[..., Client]) -> None:
    ca = TestCA()
    issued = ca.issue("orders", server=False)
    session.add(X509Credentials(alias="orders-cert", certificate=issued.certificate,
                                private_key=issued.key_pem("pw"), private_key_password="pw"))  # fmt: skip
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
    credentials = X509Credentials(alias="c2", certificate=issued.certificate, private_key=issued.key_pem("pw2"),
                                  private_key_password="pw2")  # fmt: skip
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
