"""The Store: one database of client definitions, its engine, its sessions and its schema version.

SQLite is the embedded default; the same code runs on PostgreSQL. SQLite connections get foreign keys (IRIS's
referential integrity), WAL (readers never wait for a writer) and a busy timeout (writers queue instead of failing),
and SQLAlchemy, not the sqlite3 module, emits BEGIN, so that transactions and SAVEPOINTs behave as documented.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from . import migrations
from .errors import SchemaVersionError

#: Environment variable naming the database when no URL is given.
URL_VARIABLE = "OAUTH2STORE_URL"
#: How long a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option: a SQLite connection with it set begins its transactions with BEGIN IMMEDIATE.
SQLITE_BEGIN_IMMEDIATE = "oauth2store_sqlite_begin_immediate"


def default_url() -> str:
    """`$OAUTH2STORE_URL`, else a SQLite file in the user's data directory (`$XDG_DATA_HOME/oauth2store`)."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        return configured
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'oauth2store' / 'oauth2store.db'}"


def _is_file_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    """Connection settings for SQLite, on this engine only (never on the Engine class of the host application)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: object) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, see the begin hook
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, for a connection that asked for it (see token_cache).
        immediate = connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """A database of client definitions.

    ::

        store = Store("sqlite:///clients.db")
        store.upgrade()
        with store.session() as session:      # commits on success, rolls back on error
            client = Client.Open(session, "orders-service")
    """

    def __init__(self, url: str | URL | None = None, **engine_options: Any) -> None:
        self.url = make_url(url if url is not None else default_url())
        if _is_file_sqlite(self.url):
            Path(str(self.url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.url, **engine_options)
        if self.url.get_backend_name() == "sqlite":
            _configure_sqlite(self.engine, wal=_is_file_sqlite(self.url))
        # Objects stay readable after the session ends: callers return clients from `with store.session()`.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises.

        Raises:
            SchemaVersionError: the database is not at this version's schema (run `upgrade()`).
        """
        if not self._schema_checked:
            self.check_schema()
        with self._sessions() as session, session.begin():
            yield session

    def check_schema(self) -> None:
        """Raise SchemaVersionError unless the database is at the head revision."""
        head = migrations.head_revision()
        current = self.current_revision()
        if current != head:
            raise SchemaVersionError(current, head)
        self._schema_checked = True

    def current_revision(self) -> str | None:
        """The schema revision of the database; None for a database without oauth2store's tables."""
        with self.engine.connect() as connection:
            return migrations.current_revision(connection)

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema up to `revision` (the newest by default), in one transaction."""
        with self.engine.begin() as connection:
            migrations.upgrade(connection, revision)
        self._schema_checked = False

    def downgrade(self, revision: str) -> None:
        """Migrate the schema down to `revision`; "base" drops every oauth2store table."""
        with self.engine.begin() as connection:
            migrations.downgrade(connection, revision)
        self._schema_checked = False
