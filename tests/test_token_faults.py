"""The token path under faults, with processes and real servers: a slow, failing, dripping or Retry-After server,
a renewer killed mid-request, a definition changed or a store re-keyed by another process.

The token endpoint is a small loopback server (tests/local_servers.py) whose answers each test switches while the
agents run; the agents run in worker processes (tests/fault_worker.py) on the test's store, on SQLite and on
PostgreSQL. What is asserted is what the issue asks: no other writer waits on the authorization server, no call
outlives its deadline, the server is asked no more often than the backoff allows, the still-valid token is served
throughout an outage, and definition changes reach every process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from factories import new_client, new_server
from local_servers import Reply, Seen, serve
from sqlalchemy import insert, select

from oauth2store import (
    AgentClient,
    Client,
    ClientNotUsableError,
    KeyMaterialError,
    Store,
    StoreKeyError,
    TransportError,
)
from oauth2store.models import token_renewal

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "fault_worker.py"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
APP = "faulty"


@dataclass
class TokenServer:
    """A token endpoint that issues numbered tokens, unless `fault` answers instead (a Reply, or None: healthy)."""

    lifetime: int = 40
    refresh_in: int | None = None
    fault: Callable[[], Reply | None] | None = None
    requests: int = 0
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Seen) -> Reply:
        if request.path != "/token":
            return Reply(404, {})
        with self.lock:
            self.requests += 1
        fault = self.fault
        reply = fault() if fault is not None else None
        if reply is not None:
            return reply
        with self.lock:
            self.issued += 1
            number = self.issued
        body: dict[str, Any] = {
            "access_token": f"token-{number}-{uuid.uuid4().hex}",
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
        if self.refresh_in is not None:
            body["refresh_in"] = self.refresh_in
        return Reply(200, body)


@pytest.fixture
def faulty(store: Store) -> Iterator[tuple[Store, TokenServer, str]]:
    """The store with client `faulty` whose server is a `TokenServer` on loopback; yields the server's URL too."""
    tokens = TokenServer()
    with serve(tokens.answer) as server:
        with store.session() as session:
            definition = new_server(issuer_endpoint=server.url)
            session.add(definition)
            session.add(new_client(definition, application_name=APP, client_id="faulty", client_secret="s1"))
            session.add(new_client(definition, application_name="bystander", client_id="b", client_secret="s2"))
        yield store, tokens, server.url


def _url(store: Store) -> str:
    return store.url.render_as_string(hide_password=False)


def _start_workers(
    store: Store, count: int, threads: int, seconds: float, deadline: float, max_backoff: float = 60.0
) -> list[subprocess.Popen[str]]:
    args = [_url(store), APP, str(threads), str(seconds), str(deadline), "0.02", str(max_backoff)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        for _ in range(count)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "READY"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return workers


def _results(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0, out
        results.append(json.loads(out))
    return results


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, "the condition did not come true"
        time.sleep(0.02)


_WRITER = """
import json, sys, time
from oauth2store import Client, Store
store = Store(sys.argv[1])
waits = []
for i in range(int(sys.argv[2])):
    started = time.monotonic()
    with store.session(write=True) as session:
        client = Client.Open(session, "bystander")
        client.description = f"edited {i}"
        client.RotateKeys()
    waits.append(time.monotonic() - started)
    time.sleep(0.5)
print(json.dumps(waits))
"""


def test_a_slow_renewal_blocks_no_other_writer(faulty: tuple[Store, TokenServer, str]) -> None:
    """The server takes 20 s to answer; meanwhile another process writes other clients, none waiting over 1 s."""
    store, tokens, _ = faulty
    tokens.lifetime = 300  # still fresh when it arrives
    tokens.fault = _once_slow(tokens, 20.0)
    agent = AgentClient(store, APP, timeout=(5.0, 30.0), deadline=25.0)
    outcome: list[object] = []

    def renew() -> None:
        try:
            outcome.append(agent.get_access_token())
        except Exception as exc:  # reported below
            outcome.append(exc)

    renewal = threading.Thread(target=renew)
    renewal.start()
    _wait_for(lambda: tokens.requests == 1)  # the renewal is in flight
    writer = subprocess.run(
        [sys.executable, "-c", _WRITER, _url(store), "8"], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert writer.returncode == 0, writer.stderr
    in_flight = renewal.is_alive()
    renewal.join(timeout=60)
    waits = json.loads(writer.stdout)
    assert in_flight  # every write happened while the server was still answering
    assert len(waits) == 8 and max(waits) < 1.0, waits
    assert len(outcome) == 1 and isinstance(outcome[0], str), outcome  # the slow renewal was stored when it came
    assert tokens.issued == 1 and agent.is_authorized


def _once_slow(tokens: TokenServer, delay: float) -> Callable[[], Reply | None]:
    """A fault for the first request only: the token comes, `delay` seconds late."""
    first = threading.Lock()

    def fault() -> Reply | None:
        if not first.acquire(blocking=False):
            return None
        with tokens.lock:
            tokens.issued += 1
        body = {"access_token": f"slow-{uuid.uuid4().hex}", "token_type": "Bearer", "expires_in": tokens.lifetime}
        return Reply(200, body, delay=delay)

    return fault


_RENEWER = """
import sys
from oauth2store import AgentClient, Store
AgentClient(Store(sys.argv[1]), sys.argv[2], timeout=(5.0, 60.0), deadline=60.0).get_access_token()
"""


def test_a_renewer_killed_mid_request_is_replaced_at_once(faulty: tuple[Store, TokenServer, str]) -> None:
    """SIGKILL during the token request: the next caller takes over the lease without waiting for its expiry."""
    store, tokens, _ = faulty
    hang = threading.Event()
    tokens.fault = lambda: Reply(200, {}, delay=60.0) if not hang.is_set() else None
    renewer = subprocess.Popen([sys.executable, "-c", _RENEWER, _url(store), APP], env=ENV, cwd=ROOT)
    _wait_for(lambda: tokens.requests == 1)
    os.kill(renewer.pid, signal.SIGKILL)
    renewer.wait(timeout=10)
    hang.set()
    with store.engine.connect() as connection:  # it died holding a live lease
        lease = connection.execute(select(token_renewal.c.LeaseOwner, token_renewal.c.LeaseExpires)).one()
    assert lease.LeaseOwner is not None and lease.LeaseExpires > time.time() + 30
    # A deadline far shorter than the lease: waiting the lease out would fail; taking over succeeds.
    agent = AgentClient(store, APP, deadline=3.0)
    assert agent.get_access_token().startswith("token-")
    assert tokens.requests == 2


def test_a_lease_of_another_machine_is_waited_out(faulty: tuple[Store, TokenServer, str]) -> None:
    """A lease whose owner cannot be checked (another host) holds until its expiry, then is taken over."""
    store, tokens, _ = faulty
    agent = AgentClient(store, APP, deadline=10.0)
    key = agent._key(None, None)[0][1]
    with store.engine.begin() as connection:
        connection.execute(
            insert(token_renewal).values(
                ApplicationName=APP, SessionId=key, LeaseOwner="elsewhere:1:abc", LeaseExpires=time.time() + 1.0
            )
        )
    assert agent.get_access_token().startswith("token-")
    assert tokens.requests == 1
    short = AgentClient(store, "bystander", deadline=0.5)
    other_key = short._key(None, None)[0][1]
    with store.engine.begin() as connection:
        connection.execute(
            insert(token_renewal).values(
                ApplicationName="bystander",
                SessionId=other_key,
                LeaseOwner="elsewhere:1:abc",
                LeaseExpires=time.time() + 60.0,
            )
        )
    with pytest.raises(TransportError, match="another process is renewing it"):
        short.get_access_token()
    assert tokens.requests == 1


def test_an_outage_is_ridden_out_on_the_still_valid_token(faulty: tuple[Store, TokenServer, str]) -> None:
    """8 processes x 4 threads; the server fails with 503 for 30 s from just after the first token, then recovers.

    The server advises renewal after 1 s (`refresh_in`), so renewals are attempted all through the outage: their
    number is bounded by the shared backoff (capped at 4 s here, so that the renewal after the recovery comes
    within the run), every call gets the token that still works, and one renewal succeeds after the recovery.
    """
    store, tokens, _ = faulty
    tokens.lifetime, tokens.refresh_in = 45, 1
    AgentClient(store, APP).get_access_token()  # the token that must carry everyone through
    outage_ends = time.monotonic() + 30.0

    def outage() -> Reply | None:
        if time.monotonic() < outage_ends:
            return Reply(503, {})
        tokens.refresh_in = None  # recovered: the new token is renewed at its normal time
        return None

    tokens.fault = outage
    workers = _start_workers(store, 8, 4, 40.0, 20.0, max_backoff=4.0)
    results = _results(workers)
    failed_requests = tokens.requests - tokens.issued
    calls = sum(r["calls"] for r in results)
    print(f"\n{calls} calls; {failed_requests} token requests failed during the outage; {tokens.issued} issued")
    assert all(r["errors"] == {} for r in results), [r["messages"] for r in results]
    assert sum(r["expired"] for r in results) == 0
    # At least 2 s between renewal attempts (half the 4 s cap, at worst), each retried at most 3 times by the
    # transport: a few dozen requests at most, where 32 callers asking on every call would make thousands.
    assert 3 <= failed_requests <= 3 * (30 // 2 + 2)
    assert tokens.issued == 2  # the first token, and one renewal after the recovery


def test_retry_after_holds_across_processes(faulty: tuple[Store, TokenServer, str]) -> None:
    """A 503 with Retry-After beyond the deadline: one request, then no process asks again before that time."""
    store, tokens, _ = faulty
    tokens.lifetime, tokens.refresh_in = 60, 1
    AgentClient(store, APP).get_access_token()
    time.sleep(1.0)  # due for renewal from now on
    tokens.fault = lambda: Reply(503, {}, headers={"Retry-After": "120"})
    results = _results(_start_workers(store, 4, 2, 4.0, 10.0))
    assert all(r["errors"] == {} and r["distinct"] == 1 for r in results)  # the still-valid token throughout
    assert tokens.requests == 2  # the first token, and the one refused renewal
    with store.engine.connect() as connection:
        retry_after = connection.execute(select(token_renewal.c.RetryAfter)).scalar_one()
    assert retry_after > time.time() + 100


def test_without_a_valid_token_the_recorded_failure_is_raised_at_once(faulty: tuple[Store, TokenServer, str]) -> None:
    store, tokens, url = faulty
    tokens.fault = lambda: Reply(503, {}, headers={"Retry-After": "120"})
    with pytest.raises(TransportError, match="HTTP 503"):
        AgentClient(store, APP).get_access_token()
    for _ in range(5):
        with pytest.raises(TransportError, match="HTTP 503") as raised:
            AgentClient(store, APP).get_access_token()
        assert "no request is sent to the server before" in "".join(raised.value.__notes__)
    assert tokens.requests == 1 and url in str(raised.value)


def test_a_dripping_server_is_cut_off_by_the_deadline(faulty: tuple[Store, TokenServer, str]) -> None:
    store, tokens, _ = faulty
    tokens.fault = lambda: Reply(200, {"access_token": "x" * 500, "token_type": "Bearer"}, drip=0.05)
    agent = AgentClient(store, APP, timeout=(2.0, 2.0), deadline=1.0)
    with pytest.raises(TransportError, match="deadline"):
        agent.get_access_token()
    assert tokens.requests == 1  # no retry past the deadline


_SET = """
import sys
from oauth2store import Client, Store
with Store(sys.argv[1]).session(write=True) as session:
    client = Client.Open(session, sys.argv[2])
    setattr(client, sys.argv[3], {"True": True, "False": False}.get(sys.argv[4], sys.argv[4]))
"""


def _set_elsewhere(store: Store, name: str, value: str) -> None:
    """Change the client in another process (as `oauth2store client set` would)."""
    done = subprocess.run(
        [sys.executable, "-c", _SET, _url(store), APP, name, value], capture_output=True, text=True, env=ENV
    )
    assert done.returncode == 0, done.stderr


def test_changes_made_elsewhere_are_followed_within_the_interval(faulty: tuple[Store, TokenServer, str]) -> None:
    store, tokens, _ = faulty
    clock = _Clock(time.time())
    agent = AgentClient(store, APP, clock=clock, follow_interval=5.0)
    first = agent.get_access_token()
    _set_elsewhere(store, "enabled", "False")
    assert agent.get_access_token() == first  # within the interval: the warm hit, no query
    clock.now += 5.0
    with pytest.raises(ClientNotUsableError, match="disabled"):
        agent.get_access_token()
    _set_elsewhere(store, "enabled", "True")
    _set_elsewhere(store, "client_secret", "rotated-secret")
    clock.now += 5.0
    second = agent.get_access_token()
    assert second != first  # obtained under the new definition; the old token (unexpired) is never served
    assert tokens.issued == 2
    with store.session() as session:
        client = Client.Open(session, APP)
        assert client is not None
        assert {t.definition_version for t in client.access_tokens} == {client.definition_version}


@dataclass
class _Clock:
    now: float

    def __call__(self) -> float:
        return self.now


def _rekey(store: Store, env: dict[str, str], *options: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oauth2store", "--db", _url(store), "db", "rekey", *options],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr


def test_processes_follow_a_rekey_through_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db rekey` while 4 processes renew short-lived tokens: the key file has the new key, and they take it up."""
    monkeypatch.delenv("OAUTH2STORE_KEY")
    env = {name: value for name, value in ENV.items() if name != "OAUTH2STORE_KEY"}
    tokens = TokenServer(lifetime=2)
    with serve(tokens.answer) as server, Store(f"sqlite:///{tmp_path / 'rekeyed.db'}") as store:
        store.upgrade()
        with store.session() as session:
            definition = new_server(issuer_endpoint=server.url)
            session.add(new_client(definition, application_name=APP, client_id="faulty", client_secret="s1"))
        assert store.key_file is not None
        old_key = store.key_file.read_text()
        workers = [
            subprocess.Popen(
                [sys.executable, str(WORKER), _url(store), APP, "1", "6", "10", "0.05"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=ROOT,
            )
            for _ in range(4)
        ]
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "READY"
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        _wait_for(lambda: tokens.issued >= 2)
        _rekey(store, env, "--generate")
        issued_at_rekey = tokens.issued
        results = _results(workers)
        assert store.key_file.read_text() != old_key
    assert all(r["errors"] == {} for r in results), [r["messages"] for r in results]
    assert tokens.issued >= issued_at_rekey + 2  # renewals went on after the rekey, stored under the new key


def test_a_rekey_under_a_key_from_the_environment_says_what_to_do(
    faulty: tuple[Store, TokenServer, str], tmp_path: Path
) -> None:
    store, tokens, _ = faulty
    tokens.lifetime = 2
    agent = AgentClient(store, APP)
    agent.get_access_token()
    new_key = tmp_path / "new.key"
    _rekey(store, ENV, "--generate", "--save-key", str(new_key))
    time.sleep(1.5)  # due for renewal: the stored token must be read, with the old key
    with pytest.raises(StoreKeyError, match="restart this process with the new key"):
        agent.get_access_token()


def test_a_renewal_that_fails_before_asking_leaves_no_lease(faulty: tuple[Store, TokenServer, str]) -> None:
    """A local failure (no key to sign the client assertion) is raised again at once, never as a lease to wait out."""
    store, tokens, _ = faulty
    with store.session() as session:
        client = Client.Open(session, APP)
        assert client is not None
        client.client_secret = None
        client.client_metadata.token_endpoint_auth_method = "private_key_jwt"
    for _ in range(3):
        with pytest.raises(KeyMaterialError, match="RotateKeys"):
            AgentClient(store, APP, deadline=5.0).get_access_token()
    with store.engine.connect() as connection:
        owners = connection.execute(select(token_renewal.c.LeaseOwner)).scalars().all()
    assert all(owner is None for owner in owners) and tokens.requests == 0
