"""Smoke tests for the loopback oidc-provider harness (tests/oidc_provider.py), with plain ``requests``.

They pin down what the oauth2store tests rely on: discovery, client_credentials with opaque and JWT
(resource indicator) tokens, introspection/revocation, dynamic registration (open and protected by an
initial access token, and taking a secret the test proposes), the token request counters, and key rotation across
a restart.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from factories import generate_rsa_jwk, public_jwk
from oidc_provider import OidcProvider
from oracles import b64url_decode, compact_jws, rsa_private_key

RESOURCE = "urn:test:api"
STATIC = {"client_id": "static-basic", "client_secret": "static-basic-secret"}
STATIC_POST = {
    "client_id": "static-post",
    "client_secret": "static-post-secret",
    "token_endpoint_auth_method": "client_secret_post",
}


def _discovery(issuer: str) -> dict[str, Any]:
    resp = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def _jwt_header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(token.split(".")[0]))
    return header


def _jwt_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


def _client_assertion(client_id: str, audience: str, key: bytes | rsa.RSAPrivateKey, kid: str | None) -> str:
    """A minimal RFC 7523 client assertion (HS256 for bytes, else RS256), signed by the oracle: no JOSE library."""
    now = int(time.time())
    header = {"alg": "HS256" if isinstance(key, bytes) else "RS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 60,
    }
    return compact_jws(header, claims, key)


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    with OidcProvider(
        clients=[STATIC, STATIC_POST],
        ttl={"ClientCredentials": 30, "AccessToken": 30},
        resource=RESOURCE,
    ) as provider:
        yield provider


@pytest.fixture(scope="module")
def discovery(op: OidcProvider) -> dict[str, Any]:
    return _discovery(op.issuer)


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A loopback jwks_uri (what the provider's SSRF guard would refuse by default) and its private key."""
    jwk = generate_rsa_jwk()
    body = json.dumps({"keys": [public_jwk(jwk)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", jwk
    finally:
        server.shutdown()
        server.server_close()


def _cc_token(discovery: dict[str, Any], **kwargs: Any) -> requests.Response:
    data = {"grant_type": "client_credentials", **kwargs.pop("data", {})}
    return requests.post(discovery["token_endpoint"], data=data, timeout=5, **kwargs)


def test_discovery(op: OidcProvider, discovery: dict[str, Any]) -> None:
    assert op.issuer.startswith("http://127.0.0.1:")
    assert discovery["issuer"] == op.issuer
    for key in ("token_endpoint", "introspection_endpoint", "revocation_endpoint", "registration_endpoint"):
        assert discovery[key].startswith(op.issuer + "/"), key
    assert discovery["jwks_uri"].startswith(op.issuer + "/")
    assert "client_credentials" in discovery["grant_types_supported"]
    assert set(discovery["token_endpoint_auth_methods_supported"]) >= {
        "none",
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
    }


def test_client_credentials_opaque_and_jwt(op: OidcProvider, discovery: dict[str, Any]) -> None:
    auth = (STATIC["client_id"], STATIC["client_secret"])
    opaque = _cc_token(discovery, auth=auth)
    assert opaque.status_code == 200, opaque.text
    body = opaque.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 30
    assert body["access_token"].count(".") == 0

    jwt = _cc_token(discovery, auth=auth, data={"resource": RESOURCE, "scope": "api:read"})
    assert jwt.status_code == 200, jwt.text
    token = jwt.json()["access_token"]
    assert len(token.split(".")) == 3
    header = _jwt_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == op.jwks["keys"][0]["kid"]
    claims = _jwt_claims(token)
    assert claims["aud"] == RESOURCE
    assert claims["iss"] == op.issuer
    assert claims["client_id"] == STATIC["client_id"]
    assert claims["scope"] == "api:read"

    unknown = _cc_token(discovery, auth=auth, data={"resource": "urn:test:other"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_target"


def test_client_secret_post_and_stats(op: OidcProvider, discovery: dict[str, Any]) -> None:
    op.reset_stats()
    assert op.stats() == {"token_requests": {}, "total": 0}
    data = {"client_id": STATIC_POST["client_id"], "client_secret": STATIC_POST["client_secret"]}
    ok = _cc_token(discovery, data=data)
    assert ok.status_code == 200, ok.text
    bad = _cc_token(discovery, auth=(STATIC["client_id"], "wrong"))
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert _cc_token(discovery, auth=(STATIC["client_id"], STATIC["client_secret"])).status_code == 200
    assert op.stats() == {
        "token_requests": {STATIC_POST["client_id"]: 1, STATIC["client_id"]: 2},
        "total": 3,
    }
    op.reset_stats()
    assert op.stats()["total"] == 0


def test_introspection_and_revocation(discovery: dict[str, Any]) -> None:
    auth = (STATIC["client_id"], STATIC["client_secret"])
    token = _cc_token(discovery, auth=auth).json()["access_token"]

    active = requests.post(discovery["introspection_endpoint"], data={"token": token}, auth=auth, timeout=5)
    assert active.status_code == 200, active.text
    assert active.json()["active"] is True
    assert active.json()["client_id"] == STATIC["client_id"]

    revoked = requests.post(discovery["revocation_endpoint"], data={"token": token}, auth=auth, timeout=5)
    assert revoked.status_code == 200, revoked.text

    inactive = requests.post(discovery["introspection_endpoint"], data={"token": token}, auth=auth, timeout=5)
    assert inactive.status_code == 200
    assert inactive.json() == {"active": False}


def test_open_dynamic_registration(op: OidcProvider, discovery: dict[str, Any]) -> None:
    reg = requests.post(
        discovery["registration_endpoint"],
        json={
            "client_name": "smoke",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        timeout=5,
    )
    assert reg.status_code == 201, reg.text
    client = reg.json()
    assert client["client_id"] and client["client_secret"] and client["registration_access_token"]
    assert client["registration_client_uri"].startswith(op.issuer)
    assert client["grant_types"] == ["client_credentials"]

    token = _cc_token(discovery, auth=(client["client_id"], client["client_secret"]))
    assert token.status_code == 200, token.text

    # RFC 7592 read with the registration access token.
    read = requests.get(
        client["registration_client_uri"],
        headers={"Authorization": f"Bearer {client['registration_access_token']}"},
        timeout=5,
    )
    assert read.status_code == 200, read.text
    assert read.json()["client_id"] == client["client_id"]


def test_registration_takes_a_proposed_secret_and_issues_uuids(op: OidcProvider, discovery: dict[str, Any]) -> None:
    """The harness's changes to registration: a test may propose its client's secret (else a random one), and
    client_ids are UUIDs (never beginning with '-', which a command line would read as an option)."""
    proposed = "a-proposed-client-secret-0123456789"
    client = op.register(client_secret=proposed)
    assert str(uuid.UUID(client["client_id"])) == client["client_id"]
    assert client["client_secret"] == proposed
    assert _cc_token(discovery, auth=(client["client_id"], proposed)).status_code == 200
    other = op.register()
    assert other["client_secret"] != proposed and len(other["client_secret"]) >= 64


@pytest.mark.parametrize(
    "method", ["none", "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"]
)
def test_registration_accepts_every_auth_method(
    discovery: dict[str, Any], jwks_server: tuple[str, dict[str, str]], method: str
) -> None:
    """Registration with only ``grant_types`` (server defaults: no response types) and each auth method."""
    metadata: dict[str, Any] = {"grant_types": ["client_credentials"], "token_endpoint_auth_method": method}
    if method == "private_key_jwt":
        metadata["jwks_uri"] = jwks_server[0]
    reg = requests.post(discovery["registration_endpoint"], json=metadata, timeout=5)
    assert reg.status_code == 201, reg.text
    client = reg.json()
    assert client["token_endpoint_auth_method"] == method
    assert client["response_types"] == []
    assert ("client_secret" in client) == (method not in {"none", "private_key_jwt"})

    # ...and each can then use client_credentials (including "none": this oidc-provider allows it).
    cid = client["client_id"]
    kwargs: dict[str, Any] = {"data": {}}
    if method == "client_secret_basic":
        kwargs["auth"] = (cid, client["client_secret"])
    elif method == "client_secret_post":
        kwargs["data"] = {"client_id": cid, "client_secret": client["client_secret"]}
    elif method == "none":
        kwargs["data"] = {"client_id": cid}
    else:
        if method == "client_secret_jwt":
            assertion = _client_assertion(cid, discovery["issuer"], client["client_secret"].encode(), None)
        else:
            jwk = jwks_server[1]
            assertion = _client_assertion(cid, discovery["issuer"], rsa_private_key(jwk), jwk["kid"])
        kwargs["data"] = {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
    token = _cc_token(discovery, **kwargs)
    assert token.status_code == 200, token.text


def test_registration_requires_initial_access_token(protected_oidc: OidcProvider) -> None:
    endpoint = _discovery(protected_oidc.issuer)["registration_endpoint"]
    metadata = {"grant_types": ["client_credentials"], "response_types": []}

    refused = requests.post(endpoint, json=metadata, timeout=5)
    assert refused.status_code in (400, 401), refused.text
    assert refused.json()["error"] in ("invalid_token", "invalid_request")

    wrong = requests.post(endpoint, json=metadata, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code in (400, 401), wrong.text
    assert "error" in wrong.json()

    bearer = {"Authorization": f"Bearer {protected_oidc.initial_access_token}"}
    accepted = requests.post(endpoint, json=metadata, headers=bearer, timeout=5)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["client_id"]
    assert protected_oidc.register()["client_id"]  # the harness sends the initial access token


def test_restart_rotates_keys_on_same_issuer() -> None:
    old_key, new_key = generate_rsa_jwk(kid="old"), generate_rsa_jwk(kid="new")
    with OidcProvider(jwks={"keys": [old_key]}, clients=[STATIC]) as provider:
        issuer = provider.issuer
        jwks_uri = _discovery(issuer)["jwks_uri"]
        assert [k["kid"] for k in requests.get(jwks_uri, timeout=5).json()["keys"]] == ["old"]

        provider.restart(jwks={"keys": [new_key]})

        assert provider.issuer == issuer
        served = requests.get(jwks_uri, timeout=5).json()["keys"]
        assert [k["kid"] for k in served] == ["new"]
        assert "d" not in served[0]
        token = _cc_token(
            _discovery(issuer),
            auth=(STATIC["client_id"], STATIC["client_secret"]),
            data={"resource": RESOURCE},
        ).json()["access_token"]
        assert _jwt_header(token)["kid"] == "new"
