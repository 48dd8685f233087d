"""The Store: one database of client definitions, its engine, its sessions and its schema version.

SQLite is the embedded default; the same code runs on PostgreSQL. What is SQLite's alone (its file, pragmas, BEGIN
IMMEDIATE, read-only files) is oauth2store._sqlite; re-encrypting the secrets under a new key is oauth2store._rekey.
This module is the Store's lifecycle: opening the engine, choosing the key, sessions, and schema and key checks.

Secrets are encrypted with the store's key (see oauth2store._encryption): `Store(url, key=...)`, else
`$OAUTH2STORE_KEY`, else, for a SQLite file, a key file beside the database (`<database>.key`, mode 0600) created
at first use. The key file keeps the secrets unreadable in a copy of the database alone (a backup, a dump, a
stolen .db file); it does not protect them from anyone who can read the key file too (same user, same backup).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, create_engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import _schema_version as schema_version
from ._encryption.cipher import SecretCipher, generate_store_key
from ._encryption.key_check import has_key_check_table, read_key_check, seal_key_check, verify
from ._encryption.key_files import key_file_for, load_or_create_key_file
from ._encryption.registry import KEY_VARIABLE, missing_key, register_store_key
from ._errors import SchemaVersionError, StoreKeyError
from ._rekey import rekey_database, settle_staged_key_file, staged_key_file
from ._sqlite import SQLITE_BEGIN_IMMEDIATE, configure_sqlite, is_read_only, sqlite_file
from .models.key_check import KEY_CHECK_ID, key_check

#: Environment variable naming the database when no URL is given.
URL_VARIABLE = "OAUTH2STORE_URL"


def default_url() -> str:
    """`$OAUTH2STORE_URL`, else a SQLite file in the user's data directory (`$XDG_DATA_HOME/oauth2store`)."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        return configured
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'oauth2store' / 'oauth2store.db'}"


class Store:
    """A database of client definitions.

    ::

        store = Store("sqlite:///clients.db")   # secrets encrypted with clients.db.key (or key=..., $OAUTH2STORE_KEY)
        store.upgrade()
        with store.session() as session:      # commits on success, rolls back on error
            client = Client.Open(session, "orders-service")
        with store.session(write=True) as session:   # read-modify-write that other processes may race
            Client.Open(session, "orders-service").RotateKeys()
    """

    def __init__(self, url: str | URL | None = None, *, key: str | bytes | None = None, **engine_options: Any) -> None:
        """Open (not create) the database at `url`.

        `key` encrypts the stored secrets (see `oauth2store.generate_store_key()`); without it `$OAUTH2STORE_KEY` is
        used, else for a SQLite file the key file `<database>.key` (created at first use, mode 0600), else for an
        in-memory SQLite database a random key for the process. PostgreSQL without a key refuses sessions
        (StoreKeyError). A SQLite URL may be URI-form (`sqlite:///file:PATH?mode=ro&uri=true`); opened read-only,
        or on a file this process cannot write, the store reads and never writes (ReadOnlyStoreError).
        """
        self.url = make_url(url if url is not None else default_url())
        self._file = sqlite_file(self.url)
        if self._file is not None and self._file.created_if_missing and not is_read_only(self._file):
            self._file.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.url, **engine_options)
        self._read_only = is_read_only(self._file)
        if self.url.get_backend_name() == "sqlite":
            configure_sqlite(self.engine, self._file, read_only=self._read_only)
        # Objects stay readable after the session ends: callers return clients from `with store.session()`.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True}), expire_on_commit=False
        )
        self._schema_checked = False
        self._key_checked = False
        self._lock = threading.Lock()
        #: The key file in use, when the key comes from one.
        self.key_file: Path | None = None
        self._cipher: SecretCipher | None = None
        configured = key if key is not None else os.environ.get(KEY_VARIABLE) or None
        if configured is not None:
            self._use_cipher(SecretCipher(configured))
        elif self._file is not None:
            self.key_file = key_file_for(self._file.path)
        elif self.url.get_backend_name() == "sqlite":
            self._use_cipher(SecretCipher(generate_store_key()))

    def _use_cipher(self, cipher: SecretCipher) -> None:
        self._cipher = register_store_key(self.engine, cipher, check=False)  # checked lazily, see check_key

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
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises.

        `write=True` takes the database's write lock when the transaction begins (SQLite `BEGIN IMMEDIATE`; on
        PostgreSQL the operations lock their rows): use it for read-modify-write work that several processes may
        do at once, such as `client.RotateKeys()`.

        Raises:
            SchemaVersionError: the database is not at this version's schema (run `upgrade()`).
            StoreKeyError: no key is configured, or it is not the key the database's secrets were written with.
        """
        self.prepare()
        factory = self._write_sessions if write else self._sessions
        with factory() as session, session.begin():
            yield session

    def prepare(self) -> None:
        """Check the schema version and the key, once per store (every session begins with this).

        Raises:
            SchemaVersionError: the database is not at this version's schema (run `upgrade()`).
            StoreKeyError: no key is configured, or it is not the key the database's secrets were written with.
        """
        if not self._schema_checked:
            self.check_schema()
        if not self._key_checked:
            self.check_key()

    def _load_key(self) -> SecretCipher | None:
        """The cipher, reading or creating the key file at first use."""
        with self._lock:
            if self._cipher is None and self.key_file is not None:
                if not os.path.lexists(self.key_file) and self._stored_verifier() is not None:
                    # Never replace a lost key with a new one: the stored secrets need the old key back.
                    raise StoreKeyError(
                        f"the key file {self.key_file} is missing, but this database's secrets were encrypted "
                        "with the key it held: restore it (or pass that key to Store)"
                    )
                if self._read_only and not os.path.lexists(self.key_file):
                    raise StoreKeyError(
                        f"the key file {self.key_file} does not exist, and a read-only store creates none: pass the "
                        f"key (Store(url, key=...), ${KEY_VARIABLE}) or open the database writable once"
                    )
                self._use_cipher(SecretCipher(load_or_create_key_file(self.key_file)))
            return self._cipher

    def _stored_verifier(self) -> str | None:
        """The database's key check, or None when it has none (yet)."""
        with self.engine.connect() as connection:
            return read_key_check(connection)

    def check_key(self) -> None:
        """Refuse a missing or wrong key before anything is read or written with it.

        The first check on a database stores its key check; a key file left staged by an interrupted `rekey` is
        settled here: whichever of the two keys the database holds wins.

        Raises:
            StoreKeyError: no key is configured, or it is not the database's key.
        """
        if self.key_file is not None and staged_key_file(self.key_file).exists():
            self._settle_staged_key_file()
        cipher = self._load_key()
        if cipher is None:
            raise missing_key()
        verifier = self._stored_verifier()
        if verifier is None and not self._read_only:  # a read-only store cannot store one (nor write secrets)
            # A write transaction from its first statement: on SQLite a read transaction that later writes fails
            # at once ("database is locked") when another process wrote in between, as processes opening a new
            # database together do; BEGIN IMMEDIATE waits for the write lock instead.
            with self.engine.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True}).begin() as connection:
                verifier = read_key_check(connection)
                if verifier is None and not has_key_check_table(connection):
                    # Below revision 0002: nowhere to store a key check, and no secret encrypted yet.
                    raise SchemaVersionError(schema_version.current_revision(connection), schema_version.HEAD_REVISION)
                if verifier is None:
                    try:
                        with connection.begin_nested():
                            connection.execute(
                                key_check.insert().values(ID=KEY_CHECK_ID, Verifier=seal_key_check(cipher))
                            )
                    except IntegrityError:  # another process stored its check first (PostgreSQL)
                        verifier = read_key_check(connection)
        if verifier is not None:
            verify(cipher, verifier)
        self._key_checked = True

    def _settle_staged_key_file(self) -> None:
        assert self.key_file is not None
        if settle_staged_key_file(self.engine, self.key_file):
            with self._lock:
                self._cipher = None  # the key file changed: read it again

    def _forget_key_check(self) -> None:
        self._key_checked = False  # a rekey's commit may have happened: the next session settles the key

    def rekey(self, new_key: str | bytes) -> None:
        """Re-encrypt every stored secret with `new_key`, in one transaction, and use it from now on.

        With a key file, the new key is written beside it first (`<key file>.new`, mode 0600) and moved into place
        after the commit; if the process stops in between, the next `check_key` keeps whichever key the database
        holds, so the file and the database never disagree for a store that opens them. A key given to the Store
        or in `$OAUTH2STORE_KEY` must be replaced there by the caller. Other processes using this database must be
        restarted with the new key.

        Raises:
            StoreKeyError: the current key is missing or wrong, or `new_key` is malformed; nothing is changed.
        """
        new_cipher = SecretCipher(new_key)
        self.check_key()
        old_cipher = self._load_key()
        assert old_cipher is not None
        rekey_database(
            self.engine,
            old_cipher,
            new_cipher,
            new_key,
            key_file=self.key_file,
            outcome_unknown=self._forget_key_check,
        )
        with self._lock:
            self._use_cipher(new_cipher)

    def reload_key(self) -> None:
        """Take up the key the database's secrets are encrypted with now, after another process re-keyed it.

        A key file is read again (`oauth2store db rekey` moves the new key into place). A key given to the Store
        or in `$OAUTH2STORE_KEY` cannot change under a running process: that is refused with what to do.

        Raises:
            StoreKeyError: the key file does not hold the database's key either, or the key is not from a file.
        """
        if self.key_file is None:
            raise StoreKeyError(
                "the stored secrets are encrypted with another key than the one this process was started with "
                "(was the database re-keyed with `oauth2store db rekey`?): restart this process with the new key "
                f"(Store(url, key=...) or ${KEY_VARIABLE})"
            )
        with self._lock:
            self._cipher = None
        self._key_checked = False
        self.check_key()

    def check_schema(self) -> None:
        """Raise SchemaVersionError unless the database is at the head revision."""
        head = schema_version.HEAD_REVISION
        current = self.current_revision()
        if current != head:
            raise SchemaVersionError(current, head)
        self._schema_checked = True

    def current_revision(self) -> str | None:
        """The schema revision of the database; None for a database without oauth2store's tables."""
        with self.engine.connect() as connection:
            return schema_version.current_revision(connection)

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema up to `revision` (the newest by default), in one transaction.

        Migrating stored plaintext secrets to encrypted ones (revision 0002) needs the key.
        """
        from . import _migrations  # alembic is loaded only to migrate: opening a store must not pay for it

        self._load_key()
        self._migrate(_migrations.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Migrate the schema down to `revision`; "base" drops every oauth2store table.

        Going below revision 0002 decrypts the stored secrets again, which needs the key.
        """
        from . import _migrations  # alembic is loaded only to migrate: opening a store must not pay for it

        self._load_key()
        self._migrate(_migrations.downgrade, revision)

    def _migrate(self, step: Callable[[Connection, str], None], revision: str) -> None:
        """Run a migration in one transaction; on SQLite with foreign keys off, as SQLite's ALTER TABLE recipe says.

        Batch mode rebuilds a SQLite table by copying it and dropping the original: with foreign keys on, that drop
        would cascade to the rows referring to it. They are checked (`PRAGMA foreign_key_check`) before commit.
        """
        self._schema_checked = False
        self._key_checked = False
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            driver = connection.connection.driver_connection
            if sqlite:
                assert driver is not None
                driver.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, where it takes effect
            try:
                with connection.begin():
                    step(connection, revision)
                    if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise RuntimeError("the migration left rows with dangling foreign keys; rolled back")
            finally:
                if sqlite:
                    assert driver is not None
                    driver.execute("PRAGMA foreign_keys = ON")
