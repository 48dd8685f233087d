"""Commands that talk to an authorization server (discover, token, introspect, revoke, jwks, register) and the
client's own keys, against the real oidc-provider and, for the faults it will not produce, small local servers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cli_shell import EXIT_INVALID, EXIT_KEY, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_USAGE, Shell
from factories import self_signed
from local_servers import Reply, RoutedServer
from oidc_provider import OidcProvider

from oauth2store import Store, X509Credentials

CLIENT_CREDENTIALS = ("--grant-type", "client_credentials")


@pytest.fixture
def jwks_host() -> Iterator[RoutedServer]:
    """Serves the JWKS of a private_key_jwt client at /jwks, as its application would."""
    with RoutedServer() as served:
        yield served


@pytest.fixture
def svc_op(oidc: OidcProvider) -> dict[str, Any]:
    """A client_secret_basic client of this test, registered at the provider."""
    return oidc.register()


@pytest.fixture
def agent_shell(shell: Shell, oidc: OidcProvider, svc_op: dict[str, Any]) -> Shell:
    """The store with the provider discovered and the client `svc-op` (`svc_op` at the provider) defined for it."""
    assert "discovered" in shell("server", "discover", oidc.issuer)
    definition = ("--type", "confidential", "--server", oidc.issuer)
    credentials = ("--client-id", svc_op["client_id"], "--client-secret", svc_op["client_secret"])
    shell("client", "create", "svc-op", *definition, *credentials, *CLIENT_CREDENTIALS)
    return shell


def test_server_discover(shell: Shell, oidc: OidcProvider) -> None:
    shown = json.loads(shell("server", "discover", oidc.issuer, "--json"))
    assert shown["is_discovery"] is True
    assert shown["metadata"]["token_endpoint"] == oidc.token_endpoint
    assert shown["metadata"]["introspection_endpoint"].startswith(oidc.issuer)
    listed = json.loads(shell("server", "list", "--json"))
    assert [s["issuer_endpoint"] for s in listed] == ["https://as.example.com", oidc.issuer]
    # Discovering again updates the same definition.
    assert json.loads(shell("server", "discover", oidc.issuer, "--json"))["id"] == shown["id"]
    unknown_tls = ("server", "discover", oidc.issuer + "/x", "--ssl-configuration", "nope")
    assert "not found" in shell(*unknown_tls, expect=EXIT_NOT_FOUND)


def test_discover_refusals(shell: Shell, oidc: OidcProvider) -> None:
    assert "must use https" in shell("server", "discover", "http://login.example.com", expect=EXIT_INVALID)
    assert "names issuer" in shell("server", "discover", oidc.issuer + "/", expect=EXIT_SERVER)
    assert len(json.loads(shell("server", "list", "--json"))) == 1  # nothing was stored


def test_transport_errors_exit_with_the_server_code(shell: Shell) -> None:
    with RoutedServer() as faulty:
        faulty.reply("/.well-known/openid-configuration", Reply(200, b"<html>maintenance</html>"))
        assert "not JSON" in shell("server", "discover", faulty.url, expect=EXIT_SERVER)
        faulty.reply("/.well-known/openid-configuration", Reply(503, b"busy"))
        faulty.reply("/.well-known/oauth-authorization-server", Reply(503, b"busy"))
        assert "HTTP 503 after 3 attempts" in shell("server", "discover", faulty.url, expect=EXIT_SERVER)
        shell("server", "create", faulty.url, "--token-endpoint", f"{faulty.url}/token", *CLIENT_CREDENTIALS)
        faulty.reply("/token", Reply(503, b"busy"))
        shell("client", "set", "svc", "--server", faulty.url)
        error = shell("token", "svc", expect=EXIT_SERVER)
        assert f"{faulty.url}/token: HTTP 503 after 3 attempts" in error
        assert "sekret-value" not in error
    closed = faulty.url  # the server is gone: connection refused
    assert closed in shell("token", "svc", expect=EXIT_SERVER)


def test_token_introspect_revoke(
    agent_shell: Shell, oidc: OidcProvider, svc_op: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = oidc.token_requests()
    token = agent_shell("token", "svc-op").strip()
    assert token and "\n" not in token
    assert agent_shell("token", "svc-op").strip() == token  # the store's cache: one request for both
    assert oidc.token_requests_since(before) == {svc_op["client_id"]: 1}
    claims = json.loads(agent_shell("introspect", "svc-op", "--", token))
    assert claims["active"] is True and claims["client_id"] == svc_op["client_id"]
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert agent_shell("revoke", "svc-op", "-").strip() == "revoked"
    assert json.loads(agent_shell("introspect", "svc-op", "--", token))["active"] is False
    fresh = agent_shell("token", "svc-op").strip()
    assert fresh != token  # the revoked token left the cache


def test_token_for_a_resource_as_json(agent_shell: Shell) -> None:
    got = json.loads(agent_shell("token", "svc-op", "--resource", "urn:test:api", "--json"))
    assert got["token_type"].lower() == "bearer"
    assert got["access_token"].count(".") == 2  # a JWT for the resource
    assert datetime.fromisoformat(got["expires_at"]) > datetime.now(UTC)


def test_token_error_classes(agent_shell: Shell, oidc: OidcProvider) -> None:
    agent_shell("client", "set", "svc-op", "--client-secret", "wrong-secret")
    error = agent_shell("token", "svc-op", expect=EXIT_SERVER)
    assert "invalid_client" in error and "wrong-secret" not in error
    agent_shell("client", "set", "svc-op", "--disabled")
    assert "disabled" in agent_shell("token", "svc-op", expect=EXIT_INVALID)
    assert "not found" in agent_shell("token", "ghost", expect=EXIT_NOT_FOUND)
    assert "not found" in agent_shell("revoke", "ghost", "t", expect=EXIT_NOT_FOUND)
    assert "no introspection_endpoint" in agent_shell("introspect", "svc", "t", expect=EXIT_SERVER)
    assert "TOKEN" in agent_shell("introspect", "svc-op", "", expect=EXIT_USAGE)


def test_keys_rotate_show_and_sign(agent_shell: Shell, oidc: OidcProvider, jwks_host: RoutedServer) -> None:
    registered = oidc.register(token_endpoint_auth_method="private_key_jwt", jwks_uri=f"{jwks_host.url}/jwks")
    pk = ("--type", "confidential", "--server", oidc.issuer, "--client-id", registered["client_id"])
    agent_shell("client", "create", "pk", *pk, "--auth-method", "private_key_jwt", *CLIENT_CREDENTIALS)
    assert "call RotateKeys() first" in agent_shell("token", "pk", expect=EXIT_KEY)
    first = agent_shell("keys", "rotate", "pk").splitlines()
    assert first[0].split() == ["KID", "USE", "ALG", "STATE", "ACTIVE", "FROM", "NEW"]
    assert len(first) == 2 and first[1].split()[1:4] == ["sig", "RS256", "active"] and first[1].endswith("*")
    second = json.loads(agent_shell("keys", "rotate", "pk", "--json"))
    assert [(k["state"], k["new"]) for k in second] == [("active", False), ("published", True)]
    jwks = json.loads(agent_shell("keys", "show", "pk"))
    assert [k["kid"] for k in jwks["keys"]] == [k["kid"] for k in second]
    assert all("d" not in k for k in jwks["keys"])  # public only
    jwks_host.reply("/jwks", Reply(200, json.dumps(jwks).encode(), {"Content-Type": "application/json"}))
    assert agent_shell("token", "pk").strip()  # signed with the active key, verified by the provider
    assert "retention" in agent_shell("keys", "rotate", "pk", "--retention", "1", expect=EXIT_INVALID)
    agent_shell("client", "set", "pk", "--metadata", "token_endpoint_auth_signing_alg=HS256")
    assert "HS* algorithms sign with the client secret" in agent_shell("keys", "rotate", "pk", expect=EXIT_KEY)
    assert "not found" in agent_shell("keys", "show", "ghost", expect=EXIT_NOT_FOUND)


def test_keys_of_a_client_with_x509_credentials(shell: Shell, store_url: str) -> None:
    certificate, key = self_signed()
    with Store(store_url) as store, store.session() as db:
        db.add(X509Credentials(alias="svc-cert", certificate=certificate, private_key=key))
    shell("client", "set", "svc", "--client-credentials", "svc-cert")
    assert "signs with the key of its X.509 credentials 'svc-cert': nothing to rotate" in shell("keys", "rotate", "svc")
    (published,) = json.loads(shell("keys", "show", "svc"))["keys"]
    assert published["kty"] == "EC" and len(published["x5c"]) == 1 and "d" not in published


def test_jwks_refresh(agent_shell: Shell, oidc: OidcProvider) -> None:
    shown = json.loads(agent_shell("jwks", "refresh", "svc-op", "--json"))
    assert shown["changed"] is False  # discovery stored the JWKS already
    assert {k["kid"] for k in shown["keys"]} == {k["kid"] for k in oidc.jwks["keys"]}
    forced = agent_shell("jwks", "refresh", "svc-op", "--force")
    assert forced.startswith("JWKS unchanged; cached until ")
    assert "not found" in agent_shell("jwks", "refresh", "ghost", expect=EXIT_NOT_FOUND)


def test_jwks_refresh_from_a_broken_server_exits_with_the_server_code(shell: Shell) -> None:
    with RoutedServer() as broken:
        broken.reply("/jwks", Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
        endpoints = ("--token-endpoint", f"{broken.url}/token", "--jwks-uri", f"{broken.url}/jwks")
        shell("server", "create", broken.url, *endpoints, *CLIENT_CREDENTIALS)
        resource = ("--type", "resource", "--server", broken.url, "--client-id", "b", "--client-secret", "s")
        shell("client", "create", "broken", *resource)
        assert "content type 'text/html'" in shell("jwks", "refresh", "broken", expect=EXIT_SERVER)


def test_register_then_get_a_token(shell: Shell, oidc: OidcProvider) -> None:
    shell("server", "discover", oidc.issuer)
    shell("client", "create", "reg", "--type", "confidential", "--server", oidc.issuer, *CLIENT_CREDENTIALS)
    registered = shell("register", "reg")
    assert registered.startswith("registered client reg: client_id ")
    shown = json.loads(shell("client", "show", "reg", "--json"))
    assert shown["client_id"] == registered.split()[-1] and shown["client_secret"] == "********"
    assert shell("token", "reg").count(".") in (0, 2)  # an opaque or JWT token, printed alone
    assert "client_id" in shell("register", "reg", expect=EXIT_INVALID)
