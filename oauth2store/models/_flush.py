"""The check before every flush, and the index it builds: which new objects the flush writes, by class and key,
and which keys are already stored.

The uniqueness and reference checks of each object ask "is a new object of this class named `key`?" and "is a
row of this class named `key` stored?". Scanning `session.new` for each object made a flush of N new objects cost
N^2; the index is built once per flush and answers both in constant time per question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Integer, String, event, inspect, select
from sqlalchemy.orm import Mapper, Session

from .._encryption.registry import require_cipher
from .._validation import (
    INT32_RANGE,
    text_problem,
)
from ._validated import Validated
from .base import Base


def is_lookup_key(key: object) -> bool:
    """True for a key that can be sent in a query: a storable string or an integer in range (anything else is
    already reported by its own rule, and would make PostgreSQL fail the whole transaction)."""
    if isinstance(key, str):
        return bool(key) and text_problem(key) is None
    return isinstance(key, int) and not isinstance(key, bool) and INT32_RANGE[0] <= key <= INT32_RANGE[1]


#: Keys sent in one `IN (...)` query when looking up which keys are stored (well under every backend's limit).
_LOOKUP_CHUNK = 500
_INDEX_KEY = "oauth2store.flush_index"


class FlushIndex:
    """What the checks of one flush ask of the session, answered from indexes built once per flush.

    The uniqueness and reference checks of each object ask "is a new object of this class named `key`?" and "is a
    row of this class named `key` stored?". Scanning `session.new` for each object made a flush of N new objects
    cost N^2; this index counts the new objects by (class, identity) once, and asks the database once per class
    (in chunks) which of the keys the flush will look up are stored, so a key known to be absent costs no query.
    """

    def __init__(self, session: Session, saved: Iterable[object] = ()) -> None:
        self.session = session
        self._new: Counter[tuple[type, object]] = Counter()
        for obj in session.new:
            self.count_new(obj)
        self._absent: dict[type, set[object]] = {}
        self._found: dict[tuple[type, object], object] = {}
        self._prefetch([obj for obj in saved if isinstance(obj, Validated)])

    def count_new(self, obj: object) -> None:
        """Count `obj` as saved new by this flush (the session's new objects are counted when the index is built;
        an import also counts the rows it will write in bulk, which never enter the session)."""
        if isinstance(obj, Validated):
            identity = obj.identity
            if _hashable(identity):
                for cls in type(obj).__mro__:
                    if isinstance(cls, type) and issubclass(cls, Validated) and cls is not Validated:
                        self._new[cls, identity] += 1

    def new_count(self, model: type, key: object) -> int:
        """How many objects of `model` (or a subclass) named `key` this flush saves as new."""
        return self._new[model, key] if _hashable(key) else 0

    def stored(self, model: type[Any], key: object) -> Any:
        """`session.get(model, key)`, without a query when the key is known not to be stored, and once per key
        (the session holds loaded rows weakly, so a row nothing else holds would be loaded again for each object)."""
        if not _hashable(key):
            return self.session.get(model, key)
        if key in self._absent.get(model, ()):
            return None
        found = self._found.get((model, key))
        if found is None:
            found = self.session.get(model, key)
            if found is not None:
                self._found[model, key] = found
            else:
                self._absent.setdefault(model, set()).add(key)  # asked once: a missing name is not asked again
        return found

    def _prefetch(self, saved: list[Validated]) -> None:
        """Find, with one query per class and chunk, which of the keys the checks of `saved` will look up are
        stored: the new objects' own keys (uniqueness) and the single-column keys their foreign keys name.

        Keys of objects already in the session are left out (`session.get` finds those without a query), and a
        class with a single key left is not queried ahead (`session.get` asks no more), so a small flush sends the
        same statements as before.
        """
        wanted: dict[type, set[object]] = {}
        for obj in saved:
            mapper = inspect(type(obj))
            named: list[tuple[type, object]] = []
            if inspect(obj).pending and _single_key_type(type(obj)) is not None:
                named.append((type(obj), getattr(obj, mapper.get_property_by_column(mapper.primary_key[0]).key)))
            named += [(target, getattr(obj, key)) for key, target in _references_of(type(obj))]
            for model, value in named:
                if is_lookup_key(value):  # anything else (None, a list, ...) is reported by its own rule
                    wanted.setdefault(model, set()).add(value)
        for model, keys in wanted.items():
            python_type = _single_key_type(model)
            mapper = inspect(model)
            lookups = [
                k
                for k in keys
                if isinstance(k, python_type)
                and is_lookup_key(k)
                and mapper.identity_key_from_primary_key([k]) not in self.session.identity_map
            ]
            if python_type is None or len(lookups) < 2:
                continue
            column: Column[Any] = mapper.primary_key[0]
            found: set[object] = set()
            for start in range(0, len(lookups), _LOOKUP_CHUNK):
                chunk = lookups[start : start + _LOOKUP_CHUNK]
                found.update(self.session.scalars(select(column).where(column.in_(chunk))))
            self._absent[model] = set(lookups) - found


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _single_key_type(model: type) -> Any:
    """`str` or `int`: the Python type of `model`'s one primary-key column; None for other keys."""
    key: tuple[Column[Any], ...] = inspect(model).primary_key
    if len(key) != 1:
        return None
    if isinstance(key[0].type, String):
        return str
    if isinstance(key[0].type, Integer):
        return int
    return None


_references_cache: dict[type, list[tuple[str, type]]] = {}


def _references_of(model: type) -> list[tuple[str, type]]:
    """(attribute key, class) of each column of `model` that names a row of another validated class."""
    cached = _references_cache.get(model)
    if cached is None:
        tables = {mapper.local_table: mapper.class_ for mapper in Base.registry.mappers}
        mapper: Mapper[Any] = inspect(model)
        cached = [
            (attr.key, target)
            for attr in mapper.column_attrs
            for foreign in attr.columns[0].foreign_keys
            if (target := tables.get(foreign.column.table)) is not None and issubclass(target, Validated)
        ]
        _references_cache[model] = cached
    return cached


@contextmanager
def flush_index(session: Session, saved: Iterable[object]) -> Iterator[FlushIndex]:
    """Make one index reachable from the checks (`index_of`) while the objects of a flush are checked."""
    index = FlushIndex(session, saved)
    session.info[_INDEX_KEY] = index
    try:
        yield index
    finally:
        session.info.pop(_INDEX_KEY, None)


def index_of(session: Session) -> FlushIndex:
    """The index of the flush being checked; outside a flush (an explicit `validate()`), one built now."""
    index = session.info.get(_INDEX_KEY)
    return index if isinstance(index, FlushIndex) else FlushIndex(session)


@event.listens_for(Session, "before_flush")
def _check_before_flush(session: Session, flush_context: object, instances: object) -> None:
    """Validate oauth2store objects in any session, the application's own included.

    A Session-class listener reaches sessions we did not create; it only acts on our own model instances, and
    raising here (before any SQL is sent) leaves the session usable, so the caller can fix the value and flush again.
    """
    with session.no_autoflush:
        for obj in list(session.deleted):
            if isinstance(obj, Validated):
                obj.before_delete(session)
        saved = list(session.new) + list(session.dirty)
        with flush_index(session, saved):
            _check_saved(session, saved)


def _check_saved(session: Session, saved: list[object]) -> None:
    """Check each object a flush writes (its uniqueness and references answered from the flush's index)."""
    for obj in saved:
        if isinstance(obj, Validated):
            obj.before_save(session)
            if obj.has_secret_values():
                # Refuse a write without a key here, as our own error, rather than deep inside the flush.
                require_cipher(session.get_bind(mapper=inspect(type(obj))).dialect)
