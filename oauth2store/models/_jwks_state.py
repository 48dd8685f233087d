"""A server definition's JWKS columns read and written in short transactions of their own (oauth2store._jwks_refresh).

Each transaction runs on a connection of its own from the store's engine, never in the caller's session: it is
committed whatever the caller then does, and the caller's session is neither flushed nor given changes. It locks the
row first (`lock_row`: on SQLite the no-op UPDATE as its first statement takes the write lock, so the transaction
waits its turn rather than failing on a stale snapshot), re-reads the columns, writes, and commits; no HTTP happens
inside. The lock is waited for at most `LOCK_WAIT`: the caller's own transaction may hold it (a definition it
changed, a SQLite write it flushed), and the JWKS state is not worth waiting on.

The state stays in the process instead (oauth2store._jwks_refresh) when there is no transaction of its own to give:
a store whose connections are shared with the caller (in-memory SQLite), and, on SQLite, a caller whose transaction
writes. SQLite has one writer: a write session holds the lock, and a deferred transaction that has read cannot
write once another connection committed (its snapshot is stale: "database is locked"), so storing the state would
make the caller's commit fail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from .._errors import ReadOnlyStoreError
from .._jwks_refresh import Change
from .._server_jwks import ServerJWKS
from ._locks import SQLITE_BEGIN_IMMEDIATE, lock_row
from .server_definition import ServerDefinition

log = logging.getLogger("oauth2store")

#: Seconds a JWKS state transaction waits for the row's lock before leaving the state to this process.
LOCK_WAIT = 2.0


class RowJWKS:
    """The JWKS state of one stored server definition (a `StoredJWKS`)."""

    def __init__(self, engine: Engine, server_id: int, jwks_uri: str | None) -> None:
        self._engine = engine
        self._id = server_id
        self._jwks_uri = jwks_uri

    def update(self, change: Change) -> ServerJWKS | None:
        try:
            with (
                self._engine.connect() as connection,
                _lock_wait(connection, LOCK_WAIT),
                Session(connection) as session,
                session.begin(),
            ):
                if connection.dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT * 1000)}ms'"))
                return self._change(session, change)
        except (OperationalError, ReadOnlyStoreError) as error:
            # Not an error of the validation: the state stays in this process, and the next refresh tries again.
            log.info("JWKS state of server definition %s kept in this process: %s", self._id, type(error).__name__)
            return None

    def _change(self, session: Session, change: Change) -> ServerJWKS | None:
        lock_row(session, ServerDefinition.id, self._id)
        columns = (
            ServerDefinition.public_jwks,
            ServerDefinition.public_jwks_expires,
            ServerDefinition.public_jwks_etag,
            ServerDefinition.public_jwks_fetched,
        )
        row = session.execute(select(*columns).where(ServerDefinition.id == self._id)).one_or_none()
        if row is None:
            return None  # deleted, or not committed yet
        current = ServerJWKS(self._jwks_uri, *row)
        new = change(current)
        if new is None or new == current:
            return current
        values: dict[str, object] = {
            "public_jwks_expires": new.expires,
            "public_jwks_etag": new.etag,
            "public_jwks_fetched": new.fetched,
        }
        if new.jwks != current.jwks:
            values.update(public_jwks=new.jwks, server_credentials=None)  # IRIS: new keys replace the certificate
        statement = update(ServerDefinition).where(ServerDefinition.id == self._id).values(values)
        session.execute(statement.execution_options(synchronize_session=False))
        return new


@contextmanager
def _lock_wait(connection: Connection, seconds: float) -> Iterator[None]:
    """SQLite: wait at most `seconds` for the write lock on this connection, then the store's usual wait again."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    usual = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    driver.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA busy_timeout = {int(usual)}")


def stored_jwks(session: Session, server: ServerDefinition, jwks_uri: str | None) -> RowJWKS | None:
    """The stored JWKS state of `server`, changed apart from `session`; None when there is no apart."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if server.id is None or isinstance(engine.pool, SingletonThreadPool | StaticPool):
        return None
    if engine.dialect.name == "sqlite" and _writes(session, bind):
        return None
    return RowJWKS(engine, server.id, jwks_uri)


def _writes(session: Session, bind: Engine | Connection) -> bool:
    """The session's transaction holds SQLite's write lock, or has changes to write at its commit."""
    if not session.in_transaction():
        return False
    return bool(bind.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE)) or bool(
        session.new or session.dirty or session.deleted
    )
