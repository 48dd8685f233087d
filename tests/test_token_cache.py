"""The shared token cache: skew, cache keys, and single flight across threads and processes (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oidc_provider import OidcProvider

from oauth2store import AgentClient, Client, ServerDefinition, Skew, Store, Token
from oauth2store._token_cache import session_id

WORKER = Path(__file__).with_name("agent_worker.py")
ROOT = Path(__file__).resolve().parent.parent


def token(lifetime: float) -> Token:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    return Token("t", "Bearer", issued + timedelta(seconds=lifetime), None, issued)


def test_default_skew_is_the_larger_of_60s_and_10_percent_capped_at_half_the_lifetime() -> None:
    skew = Skew()
    assert skew.seconds(3600) == 360
    assert skew.seconds(300) == 60
    assert skew.seconds(60) == 30
    assert Skew(fixed=1).seconds(5) == 1
    assert Skew(fixed=10).seconds(5) == 2.5
    assert Skew().renew_at(token(3600)) == token(3600).expires_at.timestamp() - 360


def test_long_lived_tokens_are_renewed_at_half_their_lifetime() -> None:
    """From two hours up, half the lifetime is left for riding out an outage on the still-valid token."""
    assert Skew().seconds(7200) == 3600
    assert Skew().seconds(86400) == 43200
    assert Skew(fixed=30).seconds(7200) == 3600  # a fixed skew never asks for a later renewal of a long token
    assert Skew().seconds(7199) == pytest.approx(719.9)


@given(
    lifetime=st.floats(min_value=1, max_value=10**7),
    refresh_in=st.floats(min_value=0.001, max_value=10**7),
    fixed=st.none() | st.floats(min_value=0, max_value=10**7),
)
def test_a_server_refresh_in_is_followed_and_the_skew_stays_within_the_lifetime(
    lifetime: float, refresh_in: float, fixed: float | None
) -> None:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    advice = timedelta(seconds=refresh_in) if refresh_in < lifetime else None
    held = Token("t", "Bearer", issued + timedelta(seconds=lifetime), None, issued, advice)
    renew_at = Skew(fixed=fixed).renew_at(held)
    start, end = issued.timestamp(), held.expires_at.timestamp()
    assert start + lifetime / 2 - 1e-6 <= renew_at or advice is not None  # never before half the lifetime...
    assert renew_at <= end  # ...never after the expiry
    if advice is not None:
        assert renew_at <= start + refresh_in + 1e-6  # ...and no later than the server advised


def test_cache_keys_depend_on_scope_and_resource_only() -> None:
    assert session_id("a b", ()) == session_id("a b", ())
    assert session_id("a b", ()) != session_id("a", ())
    assert session_id(None, ()) != session_id(None, ("urn:x",))
    assert session_id(None, ()).startswith("agent:") and len(session_id(None, ())) <= 256


@pytest.fixture(scope="module")
def op() -> Iterator[OidcProvider]:
    """A provider of this module's own: its tokens live 4 s, so a test spans several lifetimes."""
    clients = [{"client_id": "flight", "client_secret": "flight-secret"}]
    with OidcProvider(clients=clients, ttl={"ClientCredentials": 4, "AccessToken": 4}) as provider:
        yield provider


@pytest.fixture
def flight_store(store: Store, op: OidcProvider) -> Store:
    with store.session() as session:
        server = ServerDefinition.discover(session, op.issuer)
        credentials = {"client_id": "flight", "client_secret": "flight-secret"}
        client = Client(application_name="flight", client_type="confidential", server_definition=server, **credentials)
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
    op.reset_stats()
    return store


def test_threads_share_one_renewal(flight_store: Store, op: OidcProvider) -> None:
    agent = AgentClient(flight_store, "flight", skew=Skew(fixed=1))
    barrier = threading.Barrier(16)
    seen: list[str] = []

    def call() -> None:
        barrier.wait()
        seen.append(agent.get_access_token())

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen) == 16
    assert op.stats()["token_requests"] == {"flight": 1}


def test_processes_share_one_renewal_per_lifetime(flight_store: Store, op: OidcProvider) -> None:
    """8 processes x 200 calls over about 3 token lifetimes: about one token request per lifetime, none expired."""
    processes, calls, pause, skew, ttl = 8, 200, 0.05, 1.0, 4.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    url = flight_store.url.render_as_string(hide_password=False)
    args = [url, "flight", str(calls), str(pause), str(skew)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    for worker in workers:  # every process has loaded its agent...
        assert worker.stdout is not None and worker.stdout.readline().strip() == "READY"
    for worker in workers:  # ...before any of them starts calling
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        results.append(json.loads(out))
    elapsed = max(r["end"] for r in results) - min(r["begin"] for r in results)
    requests = op.stats()["token_requests"]["flight"]
    renewal_period = ttl - skew
    expected = math.ceil(elapsed / renewal_period)
    slowest = max(r["slowest"] for r in results)
    print(
        f"\n{processes} processes x {calls} calls in {elapsed:.1f} s: {requests} token requests "
        f"(one per {renewal_period:g} s renewal period: {expected}); slowest call {slowest:.3f} s"
    )
    assert sum(r["expired"] for r in results) == 0
    assert sum(r["calls"] for r in results) == processes * calls
    assert elapsed > 2 * ttl  # the run spans several lifetimes
    assert expected - 1 <= requests <= expected + 1
