"""The shared token cache: tokens in the store (OAuth2_AccessToken), an in-process layer in front, single flight.

Every thread and process of an application shares the stored tokens, keyed by (application_name, session_id),
where the session id is derived from what was asked for ("agent:" + a digest of the scope and the resources). An
in-process layer, shared by all agents of one engine, answers warm hits without a query. When a token must be
renewed, one thread per process (a thread lock) and one process per application (a database lock: SQLite
`BEGIN IMMEDIATE`, PostgreSQL `SELECT ... FOR NO KEY UPDATE` of the client row) asks the server; the others wait,
then find its token when they re-check the store.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, event, select
from sqlalchemy.orm import Session

from ._encryption.columns import unseal_value
from ._sqlite import SQLITE_BEGIN_IMMEDIATE
from ._state import state_of
from ._store import Store
from ._tokens import Token
from .models._locks import lock_row
from .models.access_token import CLIENT_CREDENTIALS, AccessToken, token_hash
from .models.client import Client

#: Session ids of agent tokens start with this.
SESSION_PREFIX = "agent:"


def session_id(scope: str | None, resources: Sequence[str]) -> str:
    """The cache key of a token for that (normalized) scope and those resources."""
    material = json.dumps([scope or "", list(resources)], separators=(",", ":")).encode()
    return SESSION_PREFIX + hashlib.sha256(material).hexdigest()[:40]


@dataclass(frozen=True)
class Skew:
    """How long before its expiry a token is renewed: `fixed` seconds, else max(`minimum`, `fraction` x lifetime).

    Never more than half the lifetime, so that a short-lived token is still used for a while.
    """

    fixed: float | None = None
    minimum: float = 60.0
    fraction: float = 0.1

    def seconds(self, lifetime: float) -> float:
        wanted = self.fixed if self.fixed is not None else max(self.minimum, self.fraction * lifetime)
        return min(wanted, lifetime / 2)

    def renew_at(self, token: Token) -> float:
        """Epoch seconds from which the token is no longer handed out."""
        lifetime = token.lifetime
        expires = token.expires_at.timestamp()
        seconds = lifetime.total_seconds() if lifetime is not None else 2 * self.minimum
        return expires - self.seconds(max(seconds, 0.0))


@dataclass(frozen=True)
class Entry:
    """A token in the in-process layer with the moment it stops being handed out."""

    token: Token
    renew_at: float


def _token_from(values: Sequence[Any]) -> Token | None:
    access_token, token_type, scope, expires, properties = values
    if not access_token or expires is None:
        return None
    expires_in = (properties or {}).get("expires_in")
    issued = expires - timedelta(seconds=expires_in) if isinstance(expires_in, int | float) else None
    return Token(access_token, token_type or "Bearer", expires, scope, issued)


class StoreReader:
    """Reads one stored token with a statement compiled once, on a pooled DBAPI connection.

    The cold path (token in the store, not in this process) runs often in short-lived processes; the ORM and Core
    execution layers cost several times the query itself, so this goes straight to the driver. The columns' own
    result processors still run (aware UTC datetimes, JSON), and the token is decrypted with its row's ID, to which
    it is bound (see oauth2store._encryption).
    """

    def __init__(self, engine: Engine) -> None:
        table = AccessToken.__table__
        names = ("AccessToken", "TokenType", "Scope", "Expires", "ResponseProperties", "ID")
        columns = [table.c[name] for name in names]
        statement = select(*columns).where(
            table.c.ApplicationName == bindparam("application_name"), table.c.SessionId == bindparam("session_id")
        )
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]

    def read(self, application_name: str, key: str) -> Token | None:
        """The stored token for that key, or None."""
        values = {"application_name": application_name, "session_id": key}
        parameters: Any = tuple(values[name] for name in self._order) if self._order is not None else values
        connection = self._engine.raw_connection()
        driver = connection.dbapi_connection
        # One statement needs no transaction: in autocommit (psycopg and the like) the read is one round trip,
        # with no BEGIN before it and no ROLLBACK when the pool takes the connection back.
        autocommit = getattr(driver, "autocommit", None) is False
        try:
            if autocommit:
                driver.autocommit = True  # type: ignore[union-attr]
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, parameters)
                row = cursor.fetchone()
            finally:
                cursor.close()
                if autocommit:
                    driver.autocommit = False  # type: ignore[union-attr]
        finally:
            connection.close()  # back to the pool
        if row is None:
            return None
        processed = [value if p is None else p(value) for p, value in zip(self._processors, row, strict=True)]
        *fields, row_id = processed
        fields[0] = unseal_value(self._engine.dialect, AccessToken.__tablename__, "AccessToken", (row_id,), fields[0])
        return _token_from(fields)


class _KeyLock:
    """A renewal lock; weakly referenced by its table, so the table keeps only the locks someone holds or waits on."""

    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


class ProcessCache:
    """The in-process layer of one store: tokens by (application_name, session_id), plus one renewal lock per key.

    Stored tokens deleted through this process's sessions (a revoked token, a deleted client or registration, a
    client whose credentials changed) leave it at once: see `_forget_deleted_token`.
    """

    def __init__(self) -> None:
        self._reader: StoreReader | None = None
        self.entries: dict[tuple[str, str], Entry] = {}
        self._locks: weakref.WeakValueDictionary[tuple[str, str], _KeyLock] = weakref.WeakValueDictionary()
        self._guard = threading.Lock()

    def reader(self, engine: Engine) -> StoreReader:
        """The store's compiled token read (made at first use: compiling needs the engine's dialect)."""
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


def load(session: Session, application_name: str, key: str) -> Token | None:
    """The stored agent token for that key, or None."""
    row = AccessToken.OpenForSession(session, application_name, key)
    if row is None:
        return None
    return _token_from([row.access_token, row.token_type, row.scope, row.expires, row.response_properties])


def save(session: Session, application_name: str, key: str, token: Token, resources: Sequence[str]) -> None:
    """Store the token under that key, replacing the previous one."""
    row = AccessToken.OpenForSession(session, application_name, key)
    if row is None:
        row = AccessToken(application_name=application_name, session_id=key)
        session.add(row)
    lifetime = token.lifetime
    properties: dict[str, Any] = {"resource": list(resources)}
    if lifetime is not None:
        properties["expires_in"] = lifetime.total_seconds()
    row.access_token = token.access_token
    row.token_type = token.token_type
    row.scope = token.scope
    row.expires = token.expires_at
    row.grant_type = CLIENT_CREDENTIALS
    row.hash = token_hash(token.access_token)
    row.response_properties = properties
    row.error = None
    session.flush()


@contextmanager
def locked_session(store: Store, application_name: str) -> Iterator[Session]:
    """A transaction holding the application's renewal lock until it ends (committed on success).

    SQLite: the transaction begins IMMEDIATE (the database write lock). PostgreSQL and others: the client row is
    locked FOR NO KEY UPDATE, which does not block inserts of tokens that reference it.
    """
    with store.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
        with Session(connection, expire_on_commit=False) as session, session.begin():
            if not sqlite:
                lock_row(session, Client.application_name, application_name)
            yield session
