"""One server's JWKS refresh, shared by the threads of a process and, through its stored row, by processes.

The cached JWKS state (the set, its expiry, ETag and fetched time) is the server definition's; here it is read and
written through a `StoredJWKS`, whose every `update` is a short transaction of its own holding the row's lock, never
the caller's: what a refresh learnt, a failure included, outlives a caller that rolls back because the token was bad.

A due refresh (the cached copy has expired):

1. waits for another thread of this process refreshing the same server, and takes its outcome, a failure included,
   until the failure's backoff ends (one fetch per process, not one per thread);
2. re-reads the stored state under the row's lock: if another process refreshed it, claimed it or recorded a failure
   meanwhile, the state is no longer due and is taken as it is; else it claims the refresh by moving the expiry
   `LEASE` seconds ahead, so other processes keep serving the copy they have instead of fetching too;
3. fetches outside any transaction (the store is never locked while a server answers);
4. writes what it fetched only if the stored copy is still older, and a failure (the expiry a short, jittered
   backoff ahead: `retry_expiry`) only if the claim is still its own.

A forced refresh (an unknown `kid`, at most one per cooldown: `UnknownKidRefreshes`) claims nothing; it fetches only
if no process fetched since the caller's copy was read, and a failure is not recorded (the expiry is not the
question). When the row cannot be reached or locked in time (another transaction holds it; in-memory SQLite, whose
one connection is the caller's), the state is kept in this process only and the refresh goes on.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from ._cache_expiry import DEFAULT_POLICY, CachePolicy, retry_expiry
from ._errors import OAuth2StoreError
from ._lru import LRUCache
from ._server_jwks import CachedJWKS, ServerJWKS, is_due

#: Seconds a process that claimed a refresh has to finish it before another process may take over.
LEASE = 60

#: `change(stored)`: the state to write instead of `stored`, or None to leave it.
Change = Callable[[ServerJWKS], ServerJWKS | None]
#: `fetch(base)`: the state after fetching the JWKS now (conditionally, with `base`'s ETag); raises on failure.
Fetch = Callable[[ServerJWKS], ServerJWKS]


class StoredJWKS(Protocol):
    """A server definition's stored JWKS state, changed in short transactions of its own."""

    def update(self, change: Change) -> ServerJWKS | None:
        """In one transaction holding the row's lock: read the state, write `change(state)` unless it is None.

        Returns the state stored when the transaction ends, or None when the row could not be reached or locked in
        time (nothing was written).
        """


@dataclass(frozen=True)
class Refreshed:
    """The state a refresh leaves, and the error of the fetch it made or waited for, if that failed."""

    state: ServerJWKS
    error: OAuth2StoreError | None = None


def snapshot(cached: CachedJWKS) -> ServerJWKS:
    """A `CachedJWKS` as plain values."""
    return ServerJWKS(cached.jwks_uri, cached.jwks, cached.expires, cached.etag, cached.fetched)


def is_fresher(state: ServerJWKS, than: ServerJWKS) -> bool:
    """True when `state` was fetched after `than`."""
    return state.fetched is not None and (than.fetched is None or state.fetched > than.fetched)


@dataclass
class _Server:
    """What this process knows of one server's JWKS, behind the lock its refreshing threads take turns on."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    known: ServerJWKS | None = None
    error: OAuth2StoreError | None = None


class JWKSRefreshes:
    """A store's JWKS refreshes in this process, one at a time per server definition (see the module docstring).

    Get a store's one instance with `state_of(session).get(JWKSRefreshes)`. The table keeps the most recently used
    servers only.
    """

    SIZE = 1024

    def __init__(
        self, policy: CachePolicy = DEFAULT_POLICY, lease: int = LEASE, rand: Callable[[], float] = random.random
    ) -> None:
        self.policy = policy
        self.lease = lease
        self.rand = rand
        self._servers: LRUCache[object, _Server] = LRUCache(self.SIZE)
        self._lock = threading.Lock()

    def _server(self, key: object) -> _Server:
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                server = _Server()
                self._servers.put(key, server)
            return server

    def refresh(
        self, key: object, seen: CachedJWKS, *, force: bool, now: float, fetch: Fetch, stored: StoredJWKS | None
    ) -> Refreshed:
        """The state after refreshing the JWKS of server `key`, whose caller holds `seen` (due, unless `force`).

        Errors of the fetch come back in `Refreshed.error`, never raised, so that the caller can show the state
        the failure left before raising it.
        """
        server = self._server(key)
        with server.lock:
            if force:
                return self._forced(server, snapshot(seen), fetch, stored)
            return self._due(server, snapshot(seen), now, fetch, stored)

    def _due(self, server: _Server, seen: ServerJWKS, now: float, fetch: Fetch, stored: StoredJWKS | None) -> Refreshed:
        known = server.known
        if known is not None and not is_due(known, now):
            return Refreshed(known, server.error)  # another thread's outcome
        lease = int(now) + self.lease
        claimed = False

        def claim(current: ServerJWKS) -> ServerJWKS | None:
            nonlocal claimed
            if not is_due(current, now):
                return None  # another process refreshed, claimed or failed meanwhile
            claimed = True
            return replace(current, expires=lease)

        current = stored.update(claim) if stored is not None else None
        if current is not None and not claimed:
            return self._keep(server, current, None)
        base = current or seen
        try:
            fresh = fetch(base)
        except OAuth2StoreError as error:
            last_success = base.fetched.timestamp() if base.fetched is not None else None
            asked = getattr(error, "retry_after", None)  # a TransportError's Retry-After
            failed = replace(base, expires=retry_expiry(now, last_success, self.policy, self.rand, asked))

            def record_failure(now_stored: ServerJWKS) -> ServerJWKS | None:
                return failed if now_stored.expires == lease else None  # only while the claim is its own

            written = stored.update(record_failure) if stored is not None and claimed else None
            return self._keep(server, written or failed, error)
        return self._keep(server, self._record(stored if current is not None else None, fresh), None)

    def _forced(self, server: _Server, seen: ServerJWKS, fetch: Fetch, stored: StoredJWKS | None) -> Refreshed:
        known = server.known
        if known is not None and is_fresher(known, seen):
            return Refreshed(known)  # another thread fetched since the caller's copy was read
        current = stored.update(lambda _: None) if stored is not None else None
        if current is not None and is_fresher(current, seen):
            return self._keep(server, current, None)  # another process did
        base = current or seen
        try:
            fresh = fetch(base)
        except OAuth2StoreError as error:
            return Refreshed(base, error)
        return self._keep(server, self._record(stored if current is not None else None, fresh), None)

    @staticmethod
    def _record(stored: StoredJWKS | None, fresh: ServerJWKS) -> ServerJWKS:
        """Store `fresh` unless a copy fetched later is stored already; the state stored (`fresh` if none is)."""

        def newer(current: ServerJWKS) -> ServerJWKS | None:
            return None if is_fresher(current, fresh) or current.fetched == fresh.fetched else fresh

        return (stored.update(newer) if stored is not None else None) or fresh

    @staticmethod
    def _keep(server: _Server, state: ServerJWKS, error: OAuth2StoreError | None) -> Refreshed:
        server.known, server.error = state, error
        return Refreshed(state, error)
