"""Client key pairs: RotateKeys, the key lifecycle, published_jwks, signing_key and its cache, concurrent rotation."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from factories import key_pem, new_client, new_server, self_signed
from jose import jwk as jose_jwk
from jose import jws
from oidc_provider import OidcProvider
from oracles import b64url_encode, compact_jws, jwk_thumbprint, rsa_public_key
from sqlalchemy import func, select, text

from oauth2store import (
    Client,
    ClientKey,
    KeyMaterialError,
    KeyState,
    Store,
    ValidationError,
    X509Credentials,
    generate_store_key,
    signing_key,
)
from oauth2store._encryption.registry import KEY_VARIABLE

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def save_client(store: Store, **overrides: Any) -> None:
    with store.session() as db:
        server = new_server()
        db.add(server)
        values: dict[str, Any] = {"client_secret": None}
        values.update(overrides)
        client = new_client(server, **values)
        client.client_metadata.token_endpoint_auth_method = "private_key_jwt"
        db.add(client)


def open_client(db: Any, name: str = "orders-service") -> Client:
    client = Client.Open(db, name)
    assert client is not None
    return client


def test_rotate_keys_adds_an_active_rs256_key_and_publishes_it(store: Store) -> None:
    save_client(store)
    with store.session() as db:
        client = open_client(db)
        [key] = client.RotateKeys(T0)
    assert (key.use, key.alg, key.state([key], T0)) == ("sig", "RS256", KeyState.ACTIVE)
    assert key.kid == jwk_thumbprint(key.public_jwk)
    with store.session() as db:
        client = open_client(db)
        [stored] = client.keys
        jwks = client.published_jwks_at(T0)
        assert client.client_metadata.jwks == jwks
        assert client.published_jwks == jwks
    [published] = jwks["keys"]
    assert published["kid"] == key.kid and published["use"] == "sig" and published["alg"] == "RS256"
    assert not PRIVATE_MEMBERS & published.keys()
    assert stored.kid == key.kid
    assert stored.created == T0 and stored.created.tzinfo is not None
    # The published key verifies what signing_key signs (checked with python-jose, independently).
    signer = signing_key(client, T0)
    assert (signer.kid, signer.alg, signer.x5c) == (key.kid, "RS256", None)
    token = jws.sign({"iss": "orders"}, jose_jwk.construct(json.loads(stored.private_jwk), "RS256"), algorithm="RS256")
    assert json.loads(jws.verify(token, published, algorithms=["RS256"])) == {"iss": "orders"}
    signature = signer.private_key.sign(b"assertion", padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(signer.private_key, rsa.RSAPrivateKey)
    signer.private_key.public_key().verify(signature, b"assertion", padding.PKCS1v15(), hashes.SHA256())


def test_new_key_is_published_before_it_signs_and_the_old_one_retires(store: Store) -> None:
    save_client(store)
    with store.session() as db:
        client = open_client(db)
        [first] = client.RotateKeys(T0)
        [second] = client.RotateKeys(T0 + HOUR, publication_delay=timedelta(minutes=30))
        assert second.active_from == T0 + HOUR + timedelta(minutes=30)
        assert second.state(client.keys, T0 + HOUR) == KeyState.PUBLISHED
        assert signing_key(client, T0 + HOUR).kid == first.kid  # the current key signs until then
        published = {k["kid"] for k in client.published_jwks_at(T0 + HOUR)["keys"]}
        assert published == {first.kid, second.kid}
        switch = T0 + HOUR + timedelta(minutes=30)
        assert signing_key(client, switch).kid == second.kid
        assert first.state(client.keys, switch) == KeyState.RETIRED
        assert first.retired_at(client.keys, switch) == switch
        # Retired keys stay published for their retention (default one day), then disappear...
        day_later = switch + timedelta(days=1)
        assert {k["kid"] for k in client.published_jwks_at(day_later - timedelta(seconds=1))["keys"]} == published
        assert {k["kid"] for k in client.published_jwks_at(day_later)["keys"]} == {second.kid}
        # ... and the next rotation drops them; the active key is never dropped, however old.
        [third] = client.RotateKeys(switch + timedelta(days=30))
        assert [k.kid for k in client.keys] == [second.kid, third.kid]
        assert second.state(client.keys, switch + timedelta(days=30)) == KeyState.ACTIVE
        assert {k["kid"] for k in client.client_metadata.jwks["keys"]} == {second.kid, third.kid}
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(ClientKey)) == 2


def test_retention_must_outlast_assertions_and_jwks_caches(store: Store) -> None:
    save_client(store)
    with store.session() as db:
        client = open_client(db)
        with pytest.raises(ValidationError) as refused:
            client.RotateKeys(T0, publication_delay=HOUR, retention=HOUR + timedelta(seconds=60))
        assert refused.value.fields == ("retention",)
        assert client.keys == []


@pytest.mark.parametrize(
    ("alg", "key_type", "curve"),
    [
        ("RS384", rsa.RSAPrivateKey, None),
        ("RS512", rsa.RSAPrivateKey, None),
        ("PS256", rsa.RSAPrivateKey, None),
        ("PS384", rsa.RSAPrivateKey, None),
        ("PS512", rsa.RSAPrivateKey, None),
        ("ES256", ec.EllipticCurvePrivateKey, "secp256r1"),
        ("ES384", ec.EllipticCurvePrivateKey, "secp384r1"),
        ("ES512", ec.EllipticCurvePrivateKey, "secp521r1"),
    ],
)
def test_signing_key_follows_the_metadata_algorithm(alg: str, key_type: type, curve: str | None) -> None:
    client = new_client(new_server(), client_secret=None)
    client.client_metadata.token_endpoint_auth_signing_alg = alg
    [key] = client.RotateKeys(T0)
    signer = signing_key(client, T0)
    assert (key.alg, signer.alg, signer.kid) == (alg, alg, key.kid)
    assert isinstance(signer.private_key, key_type)
    if curve is not None:
        assert isinstance(signer.private_key, ec.EllipticCurvePrivateKey)
        assert signer.private_key.curve.name == curve
        assert key.public_jwk["crv"] == {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
    assert key.kid == jwk_thumbprint(key.public_jwk)
    if alg.startswith("PS"):  # python-jose has no PS*: verify with cryptography and the published n, e
        digest = {"PS256": hashes.SHA256(), "PS384": hashes.SHA384(), "PS512": hashes.SHA512()}[alg]
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        assert isinstance(signer.private_key, rsa.RSAPrivateKey)
        signature = signer.private_key.sign(b"assertion", pss, digest)
        rsa_public_key(key.public_jwk).verify(signature, b"assertion", pss, digest)
        return
    token = jws.sign({"a": 1}, jose_jwk.construct(json.loads(key.private_jwk), alg), algorithm=alg)
    assert json.loads(jws.verify(token, key.public_jwk, algorithms=[alg])) == {"a": 1}


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_algorithms_have_no_key_pair(alg: str) -> None:
    client = new_client(new_server())
    client.client_metadata.token_endpoint_auth_signing_alg = alg
    with pytest.raises(KeyMaterialError, match="token_endpoint_auth_signing_alg") as refused:
        client.RotateKeys(T0)
    assert refused.value.application_name == "orders-service"
    assert client.keys == []


def test_encryption_keys_only_when_encrypted_responses_are_asked_for() -> None:
    client = new_client(new_server())
    assert [(k.use, k.alg) for k in client.RotateKeys(T0)] == [("sig", "RS256")]
    client.client_metadata.id_token_encrypted_response_alg = "RSA-OAEP"
    client.client_metadata.userinfo_encrypted_response_alg = "RSA-OAEP"
    made = client.RotateKeys(T0)
    assert [(k.use, k.alg) for k in made] == [("sig", "RS256"), ("enc", "RSA-OAEP")]
    # The first encryption key is active at once (there was none); the signing key waits for its delay.
    assert made[1].active_from == T0 and made[0].active_from == T0 + HOUR
    client.client_metadata.access_token_encrypted_response_alg = "RSA1_5"
    made = client.RotateKeys(T0)
    assert sorted(k.alg for k in made if k.use == "enc") == ["RSA-OAEP", "RSA1_5"]
    assert all(k["kid"] == jwk_thumbprint(k) for k in client.published_jwks_at(T0)["keys"])
    assert {k["use"] for k in client.published_jwks_at(T0)["keys"]} == {"sig", "enc"}


def save_credentials(store: Store) -> None:
    certificate, private_key = self_signed("cred-password", key_type="rsa")
    credentials = {"certificate": certificate, "private_key": private_key, "private_key_password": "cred-password"}
    with store.session() as db:
        db.add(X509Credentials(alias="signer", **credentials))
    save_client(store, client_credentials="signer")


def test_x509_credentials_give_the_key_and_rotation_changes_nothing(store: Store) -> None:
    save_credentials(store)
    with store.session() as db:
        client = open_client(db)
        assert client.RotateKeys(T0) == []
        assert client.keys == []
        assert client.client_metadata.jwks is None
    signer = signing_key(client, T0)  # works on the detached client: the credentials were loaded with it
    [published] = client.published_jwks["keys"]
    assert signer.kid == published["kid"] == jwk_thumbprint(published)
    assert signer.alg == "RS256" and published["alg"] == "RS256" and published["use"] == "sig"
    assert signer.x5c is not None and list(signer.x5c) == published["x5c"]
    assert not PRIVATE_MEMBERS & published.keys()
    token = jws.sign({"a": 1}, jose_jwk.construct(key_pem(signer.private_key), "RS256"), algorithm="RS256")
    assert json.loads(jws.verify(token, published, algorithms=["RS256"])) == {"a": 1}
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(ClientKey)) == 0


def client_with_credentials(client_password: str | None, key_password: str | None = None) -> Client:
    """An unsaved client whose credentials' key is encrypted with "cred-password"; the password may be elsewhere."""
    certificate, private_key = self_signed("cred-password", key_type="rsa")
    client = new_client(new_server(), client_credentials="signer", client_password=client_password)
    client.x509_credentials = X509Credentials(
        alias="signer", certificate=certificate, private_key=private_key, private_key_password=key_password
    )
    return client


def test_x509_key_password_may_come_from_the_client_password() -> None:
    """IRIS ClientPassword: the password of the credentials' key when the credentials do not hold it."""
    client = client_with_credentials(client_password="cred-password")
    signer = signing_key(client, T0)
    assert signer.kid == client.published_jwks["keys"][0]["kid"]


def test_x509_credentials_errors_are_key_material_errors() -> None:
    client = client_with_credentials(client_password="wrong-password")
    with pytest.raises(KeyMaterialError, match="cannot be opened") as refused:
        signing_key(client)
    assert "wrong-password" not in str(refused.value)
    client = client_with_credentials(client_password=None, key_password="cred-password")
    client.client_metadata.token_endpoint_auth_signing_alg = "ES256"
    with pytest.raises(KeyMaterialError, match="does not fit"):
        signing_key(client)
    assert client.x509_credentials is not None
    client.x509_credentials.private_key = None
    with pytest.raises(KeyMaterialError, match="no private key"):
        signing_key(client)
    client.client_credentials = "another"
    with pytest.raises(KeyMaterialError, match="not loaded or not stored"):
        signing_key(client)


def test_no_key_is_a_key_material_error() -> None:
    client = new_client(new_server())
    with pytest.raises(KeyMaterialError, match="RotateKeys"):
        signing_key(client, T0)
    client.RotateKeys(T0)
    with pytest.raises(KeyMaterialError, match="no signing key is active yet"):
        signing_key(client, T0 - HOUR)


def test_parsed_keys_are_cached_by_key_material(store: Store, store_url: str, tmp_path: Any) -> None:
    save_client(store)
    with store.session() as db:
        client = open_client(db)
        client.RotateKeys(T0)
    with store.session() as db:
        first = signing_key(open_client(db), T0)
    with store.session() as db:
        again = signing_key(open_client(db), T0)  # another load of the same client: the parsed key is reused
    assert again.private_key is first.private_key
    with store.session() as db:
        client = open_client(db)
        [new] = client.RotateKeys(T0, publication_delay=timedelta(0))
        rotated = signing_key(client, T0)
    assert rotated.kid == new.kid and rotated.private_key is not first.private_key
    store.rekey(generate_store_key())
    with store.session() as db:
        after_rekey = signing_key(open_client(db), T0)
    assert after_rekey.kid == new.kid and after_rekey.private_key is rotated.private_key  # same key, still right
    # A client of the same name in another store, with other keys, never gets this one.
    with Store(f"sqlite:///{tmp_path / 'other.db'}", key=generate_store_key()) as other:
        other.upgrade()
        save_client(other)
        with other.session() as db:
            client = open_client(db)
            client.RotateKeys(T0)
            theirs = signing_key(client, T0)
    assert theirs.kid != new.kid and theirs.private_key is not rotated.private_key


def test_delete_id_removes_the_keys(store: Store) -> None:
    save_client(store)
    with store.session() as db:
        client = open_client(db)
        client.client_metadata.id_token_encrypted_response_alg = "RSA-OAEP"
        client.RotateKeys(T0)
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(ClientKey)) == 2
        Client.DeleteId(db, "orders-service")
    with store.engine.connect() as connection:
        assert connection.execute(text('SELECT count(*) FROM "OAuth2_ClientKey"')).scalar() == 0


def test_database_cascade_removes_the_keys(store: Store) -> None:
    """ON DELETE CASCADE also holds for a plain SQL delete, outside the ORM."""
    save_client(store)
    with store.session() as db:
        open_client(db).RotateKeys(T0)
    with store.engine.begin() as connection:
        connection.execute(text('DELETE FROM "OAuth2_Client_Metadata"'))
        connection.execute(text('DELETE FROM "OAuth2_Client"'))
        assert connection.execute(text('SELECT count(*) FROM "OAuth2_ClientKey"')).scalar() == 0


def test_signing_key_repr_hides_the_private_key() -> None:
    client = new_client(new_server())
    client.RotateKeys(T0)
    signer = signing_key(client, T0)
    assert "private_key" not in repr(signer) and signer.kid in repr(signer)


def _rotate(url: str, key: str, barrier: Any, results: Any) -> None:
    store = Store(url, key=key)
    try:
        barrier.wait(timeout=60)
        with store.session(write=True) as db:
            client = Client.Open(db, "orders-service")
            assert client is not None
            [made] = client.RotateKeys()
            results.put(made.kid)
    except BaseException as error:  # reported to the parent, which fails the test
        results.put(f"error: {error!r}")
        raise
    finally:
        store.close()


def test_two_processes_rotating_at_once_both_keep_their_key(store: Store, store_url: str) -> None:
    save_client(store)
    with store.session() as db:
        [initial] = open_client(db).RotateKeys()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    key = store_key(store)
    workers = [context.Process(target=_rotate, args=(store_url, key, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    kids = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert not [kid for kid in kids if kid.startswith("error")], kids
    with store.session() as db:
        client = open_client(db)
        assert {k.kid for k in client.keys} == {initial.kid, *kids}
        assert {k["kid"] for k in client.client_metadata.jwks["keys"]} == {initial.kid, *kids}
        assert signing_key(client).kid == initial.kid  # the new ones wait for their publication delay


def store_key(store: Store) -> str:
    return os.environ[KEY_VARIABLE]


# --- The keys against a real authorization server (oidc-provider on loopback) ---------------------------------


def client_assertion(signer: Any, client_id: str, audience: str) -> str:
    """An RFC 7523 client assertion signed with the SigningKey by the oracle (RS*, PS*, ES*), not by the library."""
    now = int(datetime.now(UTC).timestamp())
    header: dict[str, Any] = {"alg": signer.alg, "typ": "JWT", "kid": signer.kid}
    if signer.x5c:
        header["x5c"] = list(signer.x5c)
    jti = b64url_encode(hashlib.sha256(str(now).encode() + signer.kid.encode()).digest())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": jti, "iat": now, "exp": now + 60}
    return compact_jws(header, claims, signer.private_key)


def register_and_get_token(provider: OidcProvider, client: Client) -> Any:
    alg = client.client_metadata.token_endpoint_auth_signing_alg
    registration = {
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": alg,
        "jwks": client.published_jwks,
    }
    client_id = provider.register(**registration)["client_id"]
    assertion = client_assertion(signing_key(client), client_id, provider.issuer)
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    return requests.post(provider.token_endpoint, data=form, timeout=5)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])  # what this oidc-provider accepts
def test_the_server_accepts_assertions_signed_with_the_rotated_key(oidc: OidcProvider, alg: str) -> None:
    client = new_client(new_server(), client_secret=None)
    client.client_metadata.token_endpoint_auth_signing_alg = alg
    client.RotateKeys()
    token = register_and_get_token(oidc, client)
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"


def test_the_server_accepts_assertions_signed_with_the_certificate_key(oidc: OidcProvider) -> None:
    client = client_with_credentials(client_password=None, key_password="cred-password")
    token = register_and_get_token(oidc, client)
    assert token.status_code == 200, token.text


def test_the_server_refuses_a_key_it_was_not_given(oidc: OidcProvider) -> None:
    """The check above can fail: an assertion signed by a key missing from the registered JWKS is refused."""
    client = new_client(new_server(), client_secret=None)
    client.RotateKeys(T0)
    other = new_client(new_server(), client_secret=None)
    other.RotateKeys(T0)
    client.keys[0].private_jwk = other.keys[0].private_jwk  # sign with a key the server does not know
    token = register_and_get_token(oidc, client)
    assert token.status_code == 401, token.text


def test_the_old_names_of_the_published_jwks_warn_and_still_work() -> None:
    """Client.public_jwks(_at) became published_jwks(_at) (the server's cached JWKS keeps `public_jwks`)."""
    client = new_client(new_server(), client_secret=None)
    client.RotateKeys(T0)
    with pytest.warns(DeprecationWarning, match="published_jwks"):
        assert client.public_jwks == client.published_jwks
    with pytest.warns(DeprecationWarning, match="published_jwks_at"):
        assert client.public_jwks_at(T0) == client.published_jwks_at(T0)
