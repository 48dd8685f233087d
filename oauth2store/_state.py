"""Per-store mutable state: what a store's callers share in one process (HTTP sessions, caches, refresh state).

Nothing mutable hangs on a module: two stores in one process never share a cache keyed by a name (an issuer, an
application) that each store may define differently. A store's state is found from anything bound to its engine (a
Session, a Connection, the Engine or one of its `execution_options` copies), through the engine's dialect, which
every `create_engine` makes anew and its copies share (the same key the encryption registry uses).
Content-addressed caches (parsed keys by a digest of their material) may stay process-wide: no two stores can
disagree about what a digest means.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar, cast

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.orm import Session

T = TypeVar("T")


class StoreState:
    """One instance of each part a store needs, made at first use by its factory (the part's class, usually)."""

    def __init__(self) -> None:
        self._parts: dict[Callable[[], object], object] = {}
        self._lock = threading.Lock()

    def get(self, factory: Callable[[], T]) -> T:
        """The store's part made by `factory`, made now if this is the first call for it."""
        part = self._parts.get(factory)
        if part is None:
            with self._lock:
                part = self._parts.get(factory)
                if part is None:
                    part = self._parts[factory] = factory()
        return cast(T, part)


_states: weakref.WeakKeyDictionary[Dialect, StoreState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def state_of(bind: Engine | Connection | Session) -> StoreState:
    """The state of the store whose engine `bind` belongs to."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    dialect = bind.dialect
    state = _states.get(dialect)
    if state is None:
        with _states_lock:
            state = _states.get(dialect)
            if state is None:
                state = _states[dialect] = StoreState()
    return state
