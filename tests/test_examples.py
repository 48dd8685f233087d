"""The examples run as a user runs them, in a fresh process, on the embedded SQLite default (or a URL they are
given), against the loopback oidc-provider where they need a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from oidc_provider import OidcProvider
from resource_server import ResourceServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SECRET = "example-client-secret-0123456789"


def run_example(name: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OAUTH2STORE_URL"}
    environment["XDG_DATA_HOME"] = str(tmp_path)
    environment["TMPDIR"] = str(tmp_path)  # the examples' temporary databases go away with the test
    # This checkout's package, even where another checkout is installed in the environment.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    environment.update(env or {})
    command = [sys.executable, str(EXAMPLES / name), *args]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def orders(oidc: OidcProvider) -> str:
    """The client_id of this test's client `orders` at the provider (its secret: SECRET)."""
    client_id: str = oidc.register(client_secret=SECRET)["client_id"]
    return client_id


def test_quickstart_runs_twice(tmp_path: Path) -> None:
    first = run_example("quickstart.py", tmp_path)
    assert "client_type: must be one of public, confidential, resource (got 'agent')" in first
    assert "after Client.DeleteId('scratch'): ['orders-service', 'orders-web']" in first
    assert (tmp_path / "oauth2store" / "oauth2store.db").exists()
    second = run_example("quickstart.py", tmp_path)
    assert second.splitlines()[-3:] == first.splitlines()[-3:]


def test_service_tokens_one_request_for_every_worker(tmp_path: Path, oidc: OidcProvider, orders: str) -> None:
    before = oidc.token_requests()
    secret = {"OAUTH2STORE_EXAMPLE_CLIENT_SECRET": SECRET}
    out = run_example("service_tokens.py", tmp_path, oidc.issuer, orders, env=secret)
    assert f"defined orders-worker for {oidc.issuer} in the application's own session" in out
    assert "12 workers in 3 processes x 4 threads got 1 distinct token" in out
    assert oidc.token_requests_since(before) == {orders: 1}
    assert SECRET not in out


def test_async_service_finds_its_server_through_the_api_and_shares_one_token(
    tmp_path: Path, oidc: OidcProvider, orders: str
) -> None:
    pytest.importorskip("httpx")
    before = oidc.token_requests()
    with ResourceServer(oidc) as api:
        secret = {"OAUTH2STORE_EXAMPLE_CLIENT_SECRET": SECRET}
        out = run_example("async_service.py", tmp_path, api.resource, orders, env=secret)
    assert f"the API's tokens come from {oidc.issuer}; orders-service is defined there" in out
    assert "20 requests from 20 tasks: HTTP [200], 1 distinct token" in out
    assert oidc.token_requests_since(before) == {orders: 1}
    assert len(api.seen_tokens) == 20 and len(set(api.seen_tokens)) == 1
    assert SECRET not in out


def test_migrate_store_sqlite_to_sqlite(tmp_path: Path) -> None:
    out = run_example("migrate_store.py", tmp_path)
    assert "3 created, 0 updated, 1 unchanged" in out  # the "default" TLS configuration exists in both
    assert "orders-service   confidential  1 key pair(s)" in out
    assert "target exports the same document as the source: True" in out


def test_migrate_store_sqlite_to_postgresql(tmp_path: Path, empty_postgres_url: str) -> None:
    out = run_example("migrate_store.py", tmp_path, "--target", empty_postgres_url)
    assert "3 created, 0 updated, 1 unchanged" in out
    assert "orders-service   confidential  1 key pair(s)" in out
    assert "target exports the same document as the source: True" in out


def test_tour_gets_a_token_from_the_local_server(tmp_path: Path) -> None:
    out = run_example("tour.py", tmp_path)
    steps = [
        "db upgrade",
        "server discover http://127.0.0.1:",
        "keys rotate tour-service",
        "client list",
        "token tour-service --resource urn:test:api",
    ]
    for step in steps:
        assert f"$ oauth2store --db $DB {step}" in out
    assert "(a JWT: iss http://127.0.0.1:" in out and "aud urn:test:api" in out
    assert "(the same token: reused from the store)" in out
    assert "the server saw 1 token request(s)" in out


def test_tour_without_a_server_says_the_token_step_was_skipped(tmp_path: Path) -> None:
    out = run_example("tour.py", tmp_path, env={"PATH": str(Path(sys.executable).parent)})  # no node, no npm
    assert "tour-service  confidential" in out
    assert "token step skipped" in out and "--issuer URL --client-id ID" in out


def test_tour_against_a_named_issuer(tmp_path: Path, oidc: OidcProvider, orders: str) -> None:
    secret = {"OAUTH2STORE_TOUR_CLIENT_SECRET": SECRET}
    out = run_example("tour.py", tmp_path, "--issuer", oidc.issuer, "--client-id", orders, env=secret)
    assert "client create tour-service --type confidential" in out and "--client-secret -" in out
    assert SECRET not in out
    assert "characters)" in out
