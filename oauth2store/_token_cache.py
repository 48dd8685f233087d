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

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.orm import Session

from ._encryption import unseal_value
from ._store import SQLITE_BEGIN_IMMEDIATE, Store
from ._tokens import Token
from .models.access_token import AccessToken
from .models.client import Client

#: The grant recorded on stored agent tokens.
GRANT_TYPE = "client_credentials"
#: Session ids of agent tokens start with this.
SESSION_PREFIX = "agent:"


def session_id(scope: str | None, resources: Sequence[str]) -> str:
    """The cache key of a token for that (normalized) scope and those resources."""
    material = json.dumps([scope or "", list(resources)], separators=(",", ":")).encode()
    return SESSION_PREFIX + hashlib.sha256(material).hexdigest()[:40]


def token_hash(access_token: str) -> str:
    """The digest stored in `AccessToken.hash`, to find a token (e.g. to revoke it) without comparing secrets."""
    return hashlib.sha256(access_token.encode()).hexdigest()


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


class ProcessCache:
    """The in-process layer: tokens by (application_name, session_id), plus one renewal lock per key."""

    def __init__(self, engine: Engine) -> None:
        self.reader = StoreReader(engine)
        self.entries: dict[tuple[str, str], Entry] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple[str, str]) -> threading.Lock:
        lock = self._locks.get(key)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(key, threading.Lock())
        return lock

    def evict_token(self, application_name: str, access_token: str) -> None:
        """Forget every entry of the application holding that token (after revocation)."""
        for key, entry in list(self.entries.items()):
            if key[0] == application_name and entry.token.access_token == access_token:
                self.entries.pop(key, None)

    def clear(self, application_name: str | None = None) -> None:
        for key in list(self.entries):
            if application_name is None or key[0] == application_name:
                self.entries.pop(key, None)


_process_caches: weakref.WeakKeyDictionary[Engine, ProcessCache] = weakref.WeakKeyDictionary()
_process_caches_lock = threading.Lock()


def process_cache(engine: Engine) -> ProcessCache:
    """The in-process layer shared by every agent of this process on that engine."""
    with _process_caches_lock:
        cache = _process_caches.get(engine)
        if cache is None:
            cache = _process_caches[engine] = ProcessCache(engine)
        return cache


def engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


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
    row.grant_type = GRANT_TYPE
    row.hash = token_hash(token.access_token)
    row.response_properties = properties
    row.error = None
    session.flush()


def delete_token(session: Session, application_name: str, access_token: str) -> int:
    """Remove the stored rows of the application holding that token; the number removed."""
    statement = delete(AccessToken).where(
        AccessToken.application_name == application_name, AccessToken.hash == token_hash(access_token)
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


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
                session.execute(
                    select(Client.application_name)
                    .where(Client.application_name == application_name)
                    .with_for_update(key_share=True)
                )
            yield session
