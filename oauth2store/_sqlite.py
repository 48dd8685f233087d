"""SQLite as the Store opens it: the file behind a URL, created private, read-only detection, connection settings.

SQLite connections get foreign keys (IRIS's referential integrity), WAL (readers never wait for a writer) and a busy
timeout (writers queue instead of failing), and SQLAlchemy, not the sqlite3 module, emits BEGIN, so that
transactions and SAVEPOINTs behave as documented; a connection may ask for BEGIN IMMEDIATE instead
(`SQLITE_BEGIN_IMMEDIATE`). A database file is created with mode 0600, and a store that cannot write its file
(`mode=ro`, `immutable=1`, permissions) reads only: SQLite's "read-only" errors become ReadOnlyStoreError. Kept
apart from the Store because none of it applies to PostgreSQL, and all of it is about one driver's files and pragmas.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy import URL, Connection, Dialect, Engine, event
from sqlalchemy.engine import ExceptionContext

from ._errors import ReadOnlyStoreError
from .models._locks import SQLITE_BEGIN_IMMEDIATE as SQLITE_BEGIN_IMMEDIATE

#: How long a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class SQLiteFile:
    """The file behind a SQLite URL, as the driver opens it."""

    path: Path
    #: The URL opens it read-only (`mode=ro`, `immutable=1`).
    read_only: bool
    #: SQLite creates it when it is missing (no `mode`, or `mode=rwc`).
    created_if_missing: bool


def sqlite_file(url: URL) -> SQLiteFile | None:
    """The database file of a SQLite URL, plain (`sqlite:///path`) or URI form (`sqlite:///file:path?mode=ro&uri=true`);
    None for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    options = {name: value if isinstance(value, str) else value[-1] for name, value in url.query.items()}
    if _true(options.get("uri")) and database.startswith("file:"):
        parts = urlsplit(database)  # SQLite URI filenames: file:[//[localhost]]path[?options][#...]
        options.update(parse_qsl(parts.query))
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or path in ("", ":memory:") or options.get("mode") == "memory":
            return None
        mode = options.get("mode")
        return SQLiteFile(
            Path(os.path.abspath(path)),
            read_only=mode == "ro" or _true(options.get("immutable")),
            created_if_missing=mode in (None, "rwc"),
        )
    if database in ("", ":memory:"):
        return None
    return SQLiteFile(Path(os.path.abspath(database)), read_only=False, created_if_missing=True)  # as pysqlite opens it


def _true(value: str | None) -> bool:
    """A SQLite URI boolean (and pysqlite's `uri=true`)."""
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def _create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists: SQLite then opens it as a new database, and gives its
    -wal, -shm and journal files the same mode (whatever the umask)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def is_read_only(file: SQLiteFile | None) -> bool:
    """The URL opens the file read-only, or this process cannot write it (permissions, immutable, read-only mount)."""
    if file is None:
        return False
    return file.read_only or (file.path.exists() and not os.access(file.path, os.W_OK))


def configure_sqlite(engine: Engine, file: SQLiteFile | None, *, read_only: bool) -> None:
    """Connection settings for SQLite, on this engine only (never on the Engine class of the host application).

    A read-only connection changes nothing: no journal mode (the database keeps its own), no file created.
    """
    wal = file is not None and not read_only

    if file is not None and file.created_if_missing and not read_only:

        @event.listens_for(engine, "do_connect")
        def _before_connect(dialect: Dialect, connection_record: object, cargs: object, cparams: object) -> None:
            _create_private_file(file.path)  # the secrets are encrypted, the names and endpoints are not

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
        # BEGIN IMMEDIATE takes the write lock up front, for a connection that asked for it (write sessions,
        # token renewal): a read-modify-write then waits its turn instead of failing on a stale snapshot.
        immediate = connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        error = context.original_exception
        if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
            raise ReadOnlyStoreError(_read_only_message(file, error)) from error


def _read_only_message(file: SQLiteFile | None, error: sqlite3.Error) -> str:
    where = f"the database {file.path}" if file is not None else "the database"
    if getattr(error, "sqlite_errorcode", 0) == sqlite3.SQLITE_READONLY_DIRECTORY:
        return (
            f"{where} cannot be opened read-only here: its directory is not writable, so SQLite cannot create the "
            "-shm file of a WAL database; let this user write the directory, or open it with a URI ending in "
            "?immutable=1&uri=true if no process writes it"
        )
    why = (
        "opened with mode=ro or immutable=1" if file is not None and file.read_only else "this process cannot write it"
    )
    return f"{where} is read-only ({why}): reading works, writing is refused"
