"""The in-process layer of the token cache: tokens by key, one renewal lock per key, shared per store."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event

from .._state import state_of
from ..models.access_token import AccessToken
from .keys import Entry
from .reader import StoreReader


class _KeyLock:
    """A renewal lock; weakly referenced by its table, so the table keeps only the locks someone holds or waits on."""

    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


class ProcessCache:
    """The in-process layer of one store: tokens by (application_name, session_id), plus one renewal lock per key.

    Stored tokens deleted through this process's sessions (a revoked token, a deleted client or registration, a
    client whose credentials changed) leave it at once (see `_forget_deleted_token`); changes made by other
    processes reach it through the agents' periodic definition check.
    """

    def __init__(self) -> None:
        self._reader: StoreReader | None = None
        self.entries: dict[tuple[str, str], Entry] = {}
        self._locks: weakref.WeakValueDictionary[tuple[str, str], _KeyLock] = weakref.WeakValueDictionary()
        self._guard = threading.Lock()

    def reader(self, engine: Engine) -> StoreReader:
        """The store's compiled token-path reads (made at first use: compiling needs the engine's dialect)."""
        if self._reader is None:
            self._reader = StoreReader(engine)
        return self._reader

    @contextmanager
    def lock(self, key: tuple[str, str]) -> Iterator[None]:
        """Hold the renewal lock of `key` (one renewing thread per key in this process)."""
        with self._guard:
            held = self._locks.get(key)
            if held is None:
                held = self._locks[key] = _KeyLock()
        with held.lock:
            yield

    def forget(self, application_name: str, session_id: str | None = None) -> None:
        """Drop the entry of that key, or every entry of the application."""
        for key in list(self.entries):
            if key[0] == application_name and session_id in (None, key[1]):
                self.entries.pop(key, None)

    def clear(self) -> None:
        self.entries.clear()


def process_cache(engine: Engine | Connection) -> ProcessCache:
    """The in-process layer shared by every agent of this process on that engine's store."""
    return state_of(engine).get(ProcessCache)


@event.listens_for(AccessToken, "after_delete")
def _forget_deleted_token(mapper: object, connection: Connection, target: AccessToken) -> None:
    """A stored token deleted through an ORM session of this process is never handed out again by this process."""
    process_cache(connection.engine).forget(target.application_name, target.session_id)
