"""AsyncAgentClient against the real oidc-provider (SQLite, PostgreSQL): the warm hit never suspends, a renewal runs
off the loop once for any number of tasks, threads, loops and processes, failures reach every waiter, and
`invalidate` drops exactly the refused token."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from oidc_provider import OidcProvider

from oauth2store import (
    AgentClient,
    AsyncAgentClient,
    Client,
    ClientNotUsableError,
    NotFoundError,
    OAuthServerError,
    ServerDefinition,
    Store,
    Token,
)
from oauth2store._token_cache import process_cache

SECRET = "an-async-client-secret-0123456789"
WORKER = Path(__file__).with_name("async_agent_worker.py")
ROOT = Path(__file__).resolve().parent.parent
TASKS = 1_000


@pytest.fixture
def client_id(oidc: OidcProvider) -> str:
    """This test's own client at the provider (so its token requests count from zero)."""
    registered: str = oidc.register(client_secret=SECRET)["client_id"]
    return registered


@pytest.fixture
def service(store: Store, oidc: OidcProvider, client_id: str) -> Store:
    """A store with the client `svc` for `client_id`, and `wrong`, whose secret the provider refuses."""
    with store.session() as session:
        server = ServerDefinition.discover(session, oidc.issuer)
        for name, secret in (("svc", SECRET), ("wrong", "not-the-secret")):
            client = Client(
                application_name=name,
                client_type="confidential",
                client_id=client_id,
                client_secret=secret,
                server_definition=server,
            )
            client.client_metadata.grant_types = ["client_credentials"]
            session.add(client)
    return store


def requests_by(oidc: OidcProvider, client_id: str) -> int:
    return oidc.token_requests().get(client_id, 0)


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(main())


def test_a_thousand_tasks_cause_one_token_request_while_the_loop_keeps_running(
    service: Store, oidc: OidcProvider, client_id: str
) -> None:
    """The renewal cannot start before the loop has ticked 100 times after the tasks asked: a loop blocked by its
    waiting tasks (a thread lock taken on the loop, the request made on it) would never let it start. Only one
    thread runs the sync path: the other tasks wait on the loop, not in executor threads on the key's lock."""
    loop_thread = threading.current_thread()  # asyncio.run runs the loop here
    armed, released = threading.Event(), threading.Event()
    gate_opened: list[bool] = []
    renewing_threads: set[int] = set()

    def clock() -> float:
        if armed.is_set() and threading.current_thread() is not loop_thread:
            renewing_threads.add(threading.get_ident())
            if not gate_opened:
                gate_opened.append(released.wait(timeout=30))
        return time.time()

    async def main() -> tuple[list[str], int]:
        agent = await AsyncAgentClient.open(service, "svc", clock=clock)
        ticks = 0
        asked = False

        async def ticker() -> None:
            nonlocal ticks
            while not asked:
                await asyncio.sleep(0)
                ticks += 1
                if ticks == 100:
                    released.set()

        ticking = asyncio.create_task(ticker())
        armed.set()
        tokens = await asyncio.gather(*(agent.get_access_token() for _ in range(TASKS)))
        asked = True
        await ticking
        return tokens, ticks

    tokens, ticks = run(main)
    assert gate_opened == [True]  # the ticker opened it: the loop ran while the renewal was pending
    assert len(renewing_threads) == 1  # one executor job: the other tasks awaited it on the loop
    assert ticks >= 100
    assert len(tokens) == TASKS and len(set(tokens)) == 1
    assert requests_by(oidc, client_id) == 1


def test_a_warm_hit_completes_without_suspending(service: Store) -> None:
    async def main() -> None:
        agent = await AsyncAgentClient.open(service, "svc")
        token = await agent.get_token()
        for call, expected in ((agent.get_token(), token), (agent.get_access_token(), token.access_token)):
            with pytest.raises(StopIteration) as finished:
                call.send(None)  # one step: no await on anything
            assert finished.value.value == expected

    run(main)


def test_following_the_stored_definition_runs_off_the_loop(service: Store) -> None:
    async def main() -> None:
        agent = await AsyncAgentClient.open(service, "svc", follow_interval=0.0)
        token = await agent.get_token()
        call = agent.get_token()
        suspended = call.send(None)  # the definition check is due: the coroutine waits for the executor
        assert isinstance(suspended, asyncio.Future)
        call.close()
        assert await agent.get_token() == token
        with service.session() as session:
            Client.Open(session, "svc").enabled = False  # type: ignore[union-attr]
        with pytest.raises(ClientNotUsableError):
            await agent.get_token()

    run(main)


def test_open_refuses_a_missing_client(service: Store) -> None:
    with pytest.raises(NotFoundError):
        run(lambda: AsyncAgentClient.open(service, "nobody"))


def test_a_cancelled_caller_does_not_cancel_the_renewal_others_wait_for(
    service: Store, oidc: OidcProvider, client_id: str
) -> None:
    async def main() -> None:
        agent = await AsyncAgentClient.open(service, "svc")
        first = asyncio.create_task(agent.get_token())
        await asyncio.sleep(0)  # it starts the renewal
        second = asyncio.create_task(agent.get_token())
        await asyncio.sleep(0)  # it joins it
        first.cancel()
        token = await second
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await agent.get_token() == token

    run(main)
    assert requests_by(oidc, client_id) == 1


def test_loops_of_several_threads_and_sync_callers_share_one_renewal(
    service: Store, oidc: OidcProvider, client_id: str
) -> None:
    shared = AsyncAgentClient(AgentClient(service, "svc"))  # one agent used by every loop
    barrier = threading.Barrier(6)
    seen: list[str] = []

    async def tasks(agent: AsyncAgentClient) -> list[str]:
        return await asyncio.gather(*(agent.get_access_token() for _ in range(100)))

    def in_a_loop(agent: AsyncAgentClient) -> None:
        barrier.wait()
        seen.extend(asyncio.run(tasks(agent)))

    def in_a_thread() -> None:
        agent = AgentClient(service, "svc")
        barrier.wait()
        seen.append(agent.get_access_token())

    workers = [threading.Thread(target=in_a_loop, args=(shared,)) for _ in range(2)]
    workers += [threading.Thread(target=in_a_loop, args=(AsyncAgentClient(AgentClient(service, "svc")),))]
    workers += [threading.Thread(target=in_a_thread) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(seen) == 303 and len(set(seen)) == 1
    assert requests_by(oidc, client_id) == 1


def test_processes_of_tasks_share_one_renewal(service: Store, oidc: OidcProvider, client_id: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    url = service.url.render_as_string(hide_password=False)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, "svc", "200"],
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
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    distinct = {token for worker in workers for token in json.loads(worker.communicate(timeout=120)[0])}
    assert all(worker.returncode == 0 for worker in workers)
    assert len(distinct) == 1
    assert requests_by(oidc, client_id) == 1


def test_a_refusal_reaches_every_task_from_one_request(service: Store, oidc: OidcProvider, client_id: str) -> None:
    async def main() -> list[BaseException | str]:
        agent = await AsyncAgentClient.open(service, "wrong")
        return await asyncio.gather(*(agent.get_access_token() for _ in range(200)), return_exceptions=True)

    outcomes = run(main)
    assert all(isinstance(outcome, OAuthServerError) and outcome.error == "invalid_client" for outcome in outcomes)
    assert requests_by(oidc, client_id) == 1


def test_invalidate_drops_only_the_refused_token(service: Store, oidc: OidcProvider, client_id: str) -> None:
    agent = AgentClient(service, "svc")
    first = agent.get_token()
    assert agent.invalidate(first) is True
    second = agent.get_token()
    assert second.access_token != first.access_token
    assert requests_by(oidc, client_id) == 2
    assert agent.invalidate(first.access_token) is False  # already replaced: nothing dropped
    process_cache(service.engine).clear()
    assert agent.get_token() == second  # still stored
    assert requests_by(oidc, client_id) == 2


def test_tasks_refused_the_same_token_renew_it_once(service: Store, oidc: OidcProvider, client_id: str) -> None:
    async def main() -> set[str]:
        agent = await AsyncAgentClient.open(service, "svc")
        refused = await agent.get_token()

        async def refused_then_retried() -> str:
            await agent.invalidate(refused)
            return await agent.get_access_token()

        retried = await asyncio.gather(*(refused_then_retried() for _ in range(50)))
        assert refused.access_token not in retried
        return set(retried)

    assert len(run(main)) == 1  # a late invalidation of the refused token never drops its successor
    assert requests_by(oidc, client_id) == 2


def test_an_async_agent_names_its_client(service: Store) -> None:
    agent = AsyncAgentClient(AgentClient(service, "svc"))
    assert repr(agent) == "AsyncAgentClient('svc')" and agent.application_name == "svc"
    assert isinstance(run(agent.get_token), Token)
