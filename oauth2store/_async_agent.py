"""AsyncAgentClient: the agent's tokens for asyncio code, with the warm hit on the loop and everything else off it.

A warm hit is the sync agent's in-process lookup, made inside the coroutine: no thread hop, no await on I/O. Anything
else (following the stored definition, reading the store, renewing through the lease protocol) is the sync agent's
own code run in the loop's default executor, so there is one renewal protocol, not two. Tasks of one loop that miss
the same key share one such run: the first starts it as a task of its own and every caller awaits it (shielded, so a
cancelled caller never cancels the renewal the others wait for); threads and processes are kept to one renewal by
the sync path's per-key locks and leases, as before.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from ._agent import AgentClient, Resource
from ._store import Store
from ._tokens import Token

_T = TypeVar("_T")


class AsyncAgentClient:
    """`AgentClient` for asyncio: ``token = await agent.get_access_token()``.

    ::

        agent = await AsyncAgentClient.open(store, "orders-service")
        headers = {"Authorization": f"Bearer {await agent.get_access_token()}"}

    `open` builds the sync agent in a thread (its constructor reads the store); `AsyncAgentClient(agent)` wraps one
    you already have, with no I/O. Both share the process's token cache with every other agent of the store, sync
    or async. Every call behaves like the sync agent's (the same deadline, failures, still-valid token and
    definition following); what takes time runs in the loop's default executor, never on the loop.
    """

    def __init__(self, agent: AgentClient) -> None:
        #: The sync agent doing the work: use it from threads, or for what has no async form here.
        self.agent = agent
        self._entries = agent._cache.entries
        #: Per loop, the runs in flight in its executor, by what they do (a renewal's scope and resource, an
        #: invalidation's token): the tasks asking for the same wait for one run.
        self._flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Task[Any]]] = (
            weakref.WeakKeyDictionary()
        )
        self._guard = threading.Lock()

    @classmethod
    async def open(cls, store: Store, application_name: str, **options: Any) -> AsyncAgentClient:
        """An agent for `application_name`, built off the loop; `options` are `AgentClient`'s keywords.

        Raises:
            NotFoundError, ClientNotUsableError, SchemaVersionError, StoreKeyError: see `AgentClient`.
        """
        return cls(await asyncio.to_thread(AgentClient, store, application_name, **options))

    def __repr__(self) -> str:
        return f"AsyncAgentClient({self.agent.application_name!r})"

    @property
    def application_name(self) -> str:
        return self.agent.application_name

    async def get_access_token(self, scope: str | Sequence[str] | None = None, *, resource: Resource = None) -> str:
        """A valid access token for `scope` and RFC 8707 `resource`: see `AgentClient.get_access_token`."""
        return (await self.get_token(scope, resource=resource)).access_token

    async def get_token(self, scope: str | Sequence[str] | None = None, *, resource: Resource = None) -> Token:
        """Like `get_access_token`, with the token's type, expiry and granted scope."""
        # The sync agent's warm hit (`AgentClient.get_token`) inline, reading its state: a call more would cost
        # half as much again as the whole hit. Anything else, following the definition included, is `_renewal`.
        agent = self.agent
        now = agent.clock()
        if now < agent._next_check:
            memo = (
                scope if scope is None or isinstance(scope, str) else tuple(scope),
                resource if resource is None or isinstance(resource, str) else tuple(resource),
            )
            known = agent._keys.get(memo)
            if known is None:
                known = agent._keys[memo] = agent._key(scope, resource)  # no I/O: the scope and resource, normalized
            entry = self._entries.get(known[0])
            if entry is not None and now < entry.renew_at and entry.version == agent.version:
                return entry.token
        return await self._renewal(scope, resource)

    async def invalidate(self, token: Token | str) -> bool:
        """Stop handing out `token` (refused by a resource server): see `AgentClient.invalidate`. Tasks of a loop
        invalidating the same token at once share one run."""
        value = token.access_token if isinstance(token, Token) else token
        return await self._shared(("invalidate", value), partial(self.agent.invalidate, value))

    def _renewal(self, scope: str | Sequence[str] | None, resource: Resource) -> asyncio.Future[Token]:
        memo = (
            scope if scope is None or isinstance(scope, str) else tuple(scope),
            resource if resource is None or isinstance(resource, str) else tuple(resource),
        )
        return self._shared(("token", memo), partial(self.agent.get_token, scope, resource=resource))

    def _shared(self, key: Hashable, call: Callable[[], _T]) -> asyncio.Future[_T]:
        """The run of `call` in the loop's executor for `key`: the one in flight on this loop, or a new one."""
        loop = asyncio.get_running_loop()
        flights = self._flights.get(loop)
        if flights is None:
            with self._guard:  # agents shared by loops of several threads
                flights = self._flights.setdefault(loop, {})
        flight = flights.get(key)
        if flight is None:
            flight = flights[key] = loop.create_task(asyncio.to_thread(call))
            flight.add_done_callback(lambda done: _landed(flights, key, done))
        return asyncio.shield(cast("asyncio.Task[_T]", flight))


def _landed(flights: dict[Hashable, asyncio.Task[Any]], key: Hashable, flight: asyncio.Task[Any]) -> None:
    """A run ended: the next call starts a new one; its error is marked seen (every waiter may have been cancelled,
    and the failure is the sync agent's to log)."""
    if flights.get(key) is flight:
        del flights[key]
    if not flight.cancelled():
        flight.exception()
