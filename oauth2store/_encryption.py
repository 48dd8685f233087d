"""Secrets at rest: every column declared `secret=True` holds its value sealed to its place, never the plaintext.

The value: "v2:" + url-safe base64 of a 96-bit random nonce and the AES-256-GCM ciphertext and tag, with the
associated data naming the value's place: its table, its column and its row's primary key (`Binding`). A ciphertext
copied to another row, column or table, or a tampered one, fails authentication (`StoreKeyError`) instead of
decrypting. The AES key is derived (HKDF-SHA256) from the store key, which keeps its Fernet form (32 url-safe
base64 bytes, `generate_store_key()`): one printable string for a variable or a file, and existing key files and
`$OAUTH2STORE_KEY` values keep working. Revisions 0002 and 0003 stored Fernet tokens (no prefix, not bound to a
place); `SecretCipher.encrypt`/`decrypt` keep that format for their migrations, and revision 0004 re-encrypts them.

Where the row key comes from: a column type (`EncryptedText`) sees one value and the dialect, never the row, and
for rows whose primary key the database assigns (tokens, client keys, server definitions) the key does not exist
until the INSERT has run. So the ORM's flush events, which know the object and its primary key, say where each
value belongs, and the column type does the cryptography:

- writing: `before_insert` / `before_update` replace each secret being written by a `Bound` (a `str` equal to the
  plaintext, carrying its Binding), which the type's bind step seals; a row whose key the database assigns is
  inserted with a placeholder and sealed by an UPDATE in `after_insert`, in the same flush. Any other plaintext
  reaching the type (a bulk or Core UPDATE/INSERT) is refused: it cannot know its row.
- reading: the type marks what it reads as `Sealed`; the `load` / `refresh` events open it with the identity the
  row was loaded under. Code reading a secret column around the ORM passes the row key itself (`unseal_value`).

Doing the cryptography in the type (not in the events) keeps one path for every value, and a plaintext can never
reach the database through the type. The events keep the object's attribute the plaintext, even after a failed
flush. Putting the key columns into the value (e.g. a SQL expression over them) would cover Core reads too, but
not writes, and would tie each statement's SQL to its dialect.

How the key reaches the column type without a global engine: SQLAlchemy gives a type's bind and result processing
the engine's `Dialect`, and every `create_engine` makes its own dialect. `register_store_key(engine, key)` maps that
dialect to a cipher (a weak mapping, written once per engine, read without locks), so two stores with different
keys in one process never mix. An engine without a registered key falls back to `$OAUTH2STORE_KEY`; the Store
registers its key itself, an application's own engine calls `register_store_key` (or sets the variable).
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import stat
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, ColumnClause, Connection, Dialect, Engine, Integer, Text, event, inspect, select, update
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.exc import DontWrapMixin
from sqlalchemy.orm import InstanceState, Mapper, Session
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.types import TypeDecorator

from ._errors import StoreKeyError

#: Environment variable holding the store key when the Store is given none.
KEY_VARIABLE = "OAUTH2STORE_KEY"
#: The plaintext of the key check stored in the database, to tell the right key from a wrong one up front.
KEY_CHECK_PLAINTEXT = "oauth2store key check v1"
#: How every sealed value starts; a Fernet token (revisions 0002-0003) never contains ":".
SEALED_PREFIX = "v2:"
#: What a row whose key the database assigns holds between its INSERT and its UPDATE (in one flush): never opens.
PENDING = SEALED_PREFIX
_NONCE_BYTES = 12
_HKDF_INFO = b"oauth2store: AES-256-GCM for secret columns, v2"
#: The first characters of every Fernet token (version byte 0x80 and a timestamp's high bytes).
_FERNET_START = "gAAAAA"

RowKey = tuple[str | int, ...]


def generate_store_key() -> str:
    """A new random store key (32 bytes, url-safe base64), e.g. for `OAUTH2STORE_KEY`."""
    return Fernet.generate_key().decode("ascii")


@dataclass(frozen=True)
class Binding:
    """Where a secret value belongs: its table, its column and its row's primary key (never a secret)."""

    table: str
    column: str
    key: RowKey

    def associated_data(self) -> bytes:
        return json.dumps([self.table, self.column, list(self.key)], separators=(",", ":")).encode("utf-8")

    def __str__(self) -> str:
        row = self.key[0] if len(self.key) == 1 else self.key
        return f"{self.table}.{self.column} of row {row!r}"


#: The one key-check row (see models.key_check).
KEY_CHECK = Binding("OAuth2_KeyCheck", "Verifier", (1,))


def row_key(values: Iterable[object]) -> RowKey | None:
    """A primary key as bound into values (strings and integers), or None while part of it is unknown."""
    key: list[str | int] = []
    for value in values:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"secret columns need str or int primary keys, not {type(value).__name__}")
        key.append(value)
    return tuple(key)


class SecretCipher:
    """Seals and opens secret values with one store key; its repr never shows the key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            material = key.strip() if isinstance(key, bytes) else key.strip().encode("ascii")
            self._fernet = Fernet(material)
        except (ValueError, TypeError, UnicodeEncodeError):
            raise StoreKeyError(
                "the store key is not a valid key (32 url-safe base64-encoded bytes, see generate_store_key())"
            ) from None
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
        self._aead = AESGCM(derived.derive(base64.urlsafe_b64decode(material)))

    def __repr__(self) -> str:
        return "<SecretCipher>"

    def seal(self, plaintext: str, binding: Binding) -> str:
        """`plaintext` encrypted for its place only (AES-256-GCM, random nonce, `binding` as associated data)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), binding.associated_data())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, value: str, binding: Binding) -> str:
        """The plaintext of a sealed `value` read from `binding`'s place.

        Raises:
            StoreKeyError: another key sealed it, or it was sealed for another place (copied), or it is not a
                sealed value at all (a plaintext, or a Fernet token of revisions 0002-0003).
        """
        if not value.startswith(SEALED_PREFIX):
            if value.startswith(_FERNET_START):
                raise StoreKeyError(
                    f"cannot decrypt {binding}: it holds a value of revisions 0002-0003, not bound to its row; "
                    "upgrade the database (oauth2store db upgrade). If it is upgraded, the value was written "
                    "around oauth2store (e.g. copied from an older backup)"
                )
            raise StoreKeyError(f"cannot decrypt {binding}: it is not an encrypted value")
        try:
            data = base64.urlsafe_b64decode(value[len(SEALED_PREFIX) :].encode("ascii"))
            opened = self._aead.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], binding.associated_data())
            return opened.decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            raise StoreKeyError(
                f"cannot decrypt {binding}: it was encrypted with another key, or for another row or column "
                "(a value copied there), or it was altered"
            ) from None

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token, the unbound format of revisions 0002-0003 (for their migrations)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, where: str = "a secret") -> str:
        """The plaintext of a Fernet token; StoreKeyError when this key did not encrypt it (or it is not a token)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise StoreKeyError(
                f"cannot decrypt {where}: the database was encrypted with another key (or the value is not encrypted)"
            ) from None


def seal_key_check(cipher: SecretCipher) -> str:
    return cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK)


_registered: weakref.WeakKeyDictionary[Dialect, SecretCipher] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()
_from_environment: tuple[str, SecretCipher] | None = None


def register_store_key(engine: Engine, key: str | bytes | SecretCipher, *, check: bool = True) -> SecretCipher:
    """Use `key` for the secret columns of every statement run through `engine` (and its execution_options copies).

    Call it for an engine your application created itself, before using oauth2store's models with it; without
    it, `$OAUTH2STORE_KEY` is used. With `check`, the key is first checked against the database's key check (one
    query), so a wrong key is refused before anything is written with it. A Store calls it for its own engine.

    Raises:
        StoreKeyError: the key is malformed, or (with `check`) not the key the database's secrets were written with.
    """
    cipher = key if isinstance(key, SecretCipher) else SecretCipher(key)
    if check:
        check_key(engine, cipher)
    with _registry_lock:
        _registered[engine.dialect] = cipher
    return cipher


#: The key-check table as its reader needs it (its definition for the schema is oauth2store.models.key_check).
_key_check_row = sql_table(KEY_CHECK.table, sql_column("ID", Integer), sql_column(KEY_CHECK.column, Text))


def has_key_check_table(connection: Connection) -> bool:
    return inspect(connection).has_table(KEY_CHECK.table)


def read_key_check(connection: Connection, *, lock: bool = False) -> str | None:
    """The database's key check, or None when it has none yet (or no key-check table: below revision 0002).

    The one reader of the key check, so "none yet" and "no table" mean the same to every caller. `lock` also locks
    the row until the transaction ends (FOR UPDATE; SQLite has no row locks, its writers serialize on the
    database), for a rekey that must not race another.
    """
    if not has_key_check_table(connection):
        return None
    row_id: ColumnClause[int] = _key_check_row.c.ID
    statement = select(_key_check_row.c[KEY_CHECK.column]).where(row_id == KEY_CHECK.key[0])
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    verifier: str | None = connection.scalar(statement)
    return verifier


def check_key(engine: Engine, cipher: SecretCipher) -> None:
    """Raise StoreKeyError unless `cipher` opens the database's key check (a database without one passes)."""
    with engine.connect() as connection:
        verifier = read_key_check(connection)
    if verifier is not None:
        verify(cipher, verifier)


def verify(cipher: SecretCipher, verifier: str) -> None:
    """Raise StoreKeyError unless `verifier` is the key check encrypted with `cipher`'s key.

    Both formats are read: a database below revision 0004 holds a Fernet token (upgrading it needs the key).
    """
    try:
        if verifier.startswith(SEALED_PREFIX):
            plaintext: str | None = cipher.unseal(verifier, KEY_CHECK)
        else:
            plaintext = cipher.decrypt(verifier, "the key check")
    except StoreKeyError:
        plaintext = None
    if plaintext != KEY_CHECK_PLAINTEXT:
        raise StoreKeyError(
            "wrong oauth2store key: the database's secrets were encrypted with another key "
            "(check Store(key=...), $OAUTH2STORE_KEY or the key file)"
        )


def registered_cipher(dialect: Dialect) -> SecretCipher | None:
    """The cipher registered for the dialect's engine, else one from `$OAUTH2STORE_KEY`, else None."""
    cipher = _registered.get(dialect)
    if cipher is not None:
        return cipher
    return environment_cipher()


def environment_cipher() -> SecretCipher | None:
    """A cipher for `$OAUTH2STORE_KEY` (built once per value), or None when the variable is unset."""
    global _from_environment
    value = os.environ.get(KEY_VARIABLE)
    if not value:
        return None
    cached = _from_environment
    if cached is not None and cached[0] == value:
        return cached[1]
    cipher = SecretCipher(value)
    _from_environment = (value, cipher)
    return cipher


def missing_key() -> StoreKeyError:
    return StoreKeyError(
        f"no oauth2store key: pass Store(url, key=...), set ${KEY_VARIABLE}, "
        "or call oauth2store.register_store_key(engine, key) for your own engine"
    )


def require_cipher(dialect: Dialect) -> SecretCipher:
    cipher = registered_cipher(dialect)
    if cipher is None:
        raise missing_key()
    return cipher


class _StatementStoreKeyError(StoreKeyError, DontWrapMixin):
    """A StoreKeyError raised while SQLAlchemy runs a statement, which would otherwise wrap it in StatementError."""


class Sealed(str):
    """A value as a secret column stores it (what EncryptedText reads): opened only with its row's key."""

    __slots__ = ()


class Bound(str):
    """A plaintext on its way into a secret column, with its place (None: the database has not assigned it yet)."""

    binding: Binding | None

    def __new__(cls, plaintext: str, binding: Binding | None = None) -> Bound:  # default: copy and pickle
        bound = super().__new__(cls, plaintext)
        bound.binding = binding
        return bound


class EncryptedText(TypeDecorator[str]):
    """A TEXT column holding sealed values: a `Bound` plaintext is sealed on the way in, what is read is `Sealed`.

    `iris_property(..., secret=True)` chooses this type; the ORM events of `seal_secret_columns` bind values to
    rows. Equality filters on it cannot work (each encryption is randomized); look secrets up by their owner's key.
    """

    impl = Text()
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Bound):
            raise _StatementStoreKeyError(
                "a secret column is only written by the ORM's flush (set the attribute and flush), which knows the "
                "value's row: a bulk or Core INSERT/UPDATE/WHERE of a secret is refused; nothing was written"
            )
        if value.binding is None:
            return PENDING
        try:
            return require_cipher(dialect).seal(str(value), value.binding)
        except StoreKeyError as error:
            raise _StatementStoreKeyError(str(error)) from None

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else Sealed(value)

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        raise StoreKeyError("secret values are never rendered into SQL text")


def unseal_value(dialect: Dialect, table: str, column: str, key: Sequence[object], value: str | None) -> str | None:
    """The plaintext of a secret `table.column` value read around the ORM, from the row whose primary key is `key`."""
    if value is None:
        return None
    bound_key = row_key(key)
    if bound_key is None:
        raise TypeError("a stored row has its whole primary key")
    return require_cipher(dialect).unseal(value, Binding(table, column, bound_key))


# --- binding values to their rows, in the ORM's events ------------------------------------------------------

_secret_attributes_of: dict[Mapper[Any], tuple[tuple[str, Column[Any]], ...]] = {}


def _secret_attributes(mapper: Mapper[Any]) -> tuple[tuple[str, Column[Any]], ...]:
    """(attribute key, column) of every EncryptedText column of the mapped class."""
    found = _secret_attributes_of.get(mapper)
    if found is None:
        found = tuple(
            (prop.key, column)
            for prop in mapper.column_attrs
            for column in prop.columns[:1]
            if isinstance(column, Column) and isinstance(column.type, EncryptedText)
        )
        _secret_attributes_of[mapper] = found
    return found


def _binding(column: Column[Any], key: RowKey | None) -> Binding | None:
    return None if key is None else Binding(column.table.name, column.name, key)


def _bind_for_insert(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Give every secret of a new row its place (or None when the database assigns the key: see _after_insert)."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    dict_ = inspect(target).dict
    key = row_key(mapper.primary_key_from_instance(target))
    for attr, column in secrets:
        value = dict_.get(attr)
        if value is not None:
            dict_[attr] = Bound(_plaintext(value, column), _binding(column, key))


def _bind_for_update(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Give every changed secret its place; all of them when the primary key itself changes."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    state = inspect(target)
    key = row_key(mapper.primary_key_from_instance(target))
    moved = state.key is not None and key != row_key(state.key[1])
    for attr, column in secrets:
        if not moved and attr not in state.committed_state:
            continue  # unchanged: the stored value stays bound to this row
        value = getattr(target, attr)  # loads it when expired (moved rows)
        if value is not None:
            state.dict[attr] = Bound(_plaintext(value, column), _binding(column, key))
            if moved:
                flag_modified(target, attr)


def _plaintext(value: object, column: Column[Any]) -> str:
    if isinstance(value, Sealed):
        raise StoreKeyError(
            f"{column.table.name}.{column.name} is set to a stored (encrypted) value read around the ORM, not to a "
            "plaintext: it would be encrypted twice"
        )
    if not isinstance(value, str):
        raise TypeError(f"{column.table.name}.{column.name} holds text, not {type(value).__name__}")
    return str(value)


def _after_insert(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    """Seal the secrets of a row whose key the database just assigned, in the flush's transaction."""
    secrets = _secret_attributes(mapper)
    if not secrets:
        return
    dict_ = inspect(target).dict
    pending = [(a, c) for a, c in secrets if isinstance(dict_.get(a), Bound) and dict_[a].binding is None]
    if pending:
        key = row_key(mapper.primary_key_from_instance(target))
        if key is None:
            raise TypeError(f"{mapper.class_.__name__} has no primary key after its INSERT")
        table = pending[0][1].table
        values = {column: Bound(dict_[attr], _binding(column, key)) for attr, column in pending}
        where = [column == value for column, value in zip(mapper.primary_key, key, strict=True)]
        connection.execute(update(table).where(*where).values(values))
    _plain_again(target, secrets)


def _after_update(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    secrets = _secret_attributes(mapper)
    if secrets:
        _plain_again(target, secrets)


def _plain_again(target: object, secrets: Sequence[tuple[str, Column[Any]]]) -> None:
    """After the write, the object's attributes are plain strings again (what the application set)."""
    dict_ = inspect(target).dict
    for attr, _column in secrets:
        value = dict_.get(attr)
        if isinstance(value, Bound):
            set_committed_value(target, attr, str(value))


def _unseal_loaded(state: InstanceState[Any], context: object) -> None:
    _unseal(state)


def _unseal_refreshed(state: InstanceState[Any], context: object, attrs: Iterable[str] | None) -> None:
    _unseal(state)


def _unseal(state: InstanceState[Any]) -> None:
    """Open the secrets just loaded (marked Sealed) with the identity the row was loaded under."""
    secrets = _secret_attributes(state.mapper)
    dict_ = state.dict
    sealed = [(attr, column) for attr, column in secrets if isinstance(dict_.get(attr), Sealed)]
    target = state.obj()
    if not sealed or target is None:
        return
    session = state.session
    try:
        cipher = _cipher_of(session, state.mapper)
        key = row_key(state.key[1] if state.key is not None else state.mapper.primary_key_from_instance(target))
        if key is None:
            raise TypeError(f"a loaded {state.mapper.class_.__name__} has no primary key")
        for attr, column in sealed:
            set_committed_value(target, attr, cipher.unseal(dict_[attr], Binding(column.table.name, column.name, key)))
    except StoreKeyError:
        # Never leave the ciphertext as the attribute's value: the next access loads (and refuses) it again.
        if session is not None:
            session.expire(target, [attr for attr, _ in sealed])
        else:
            for attr, _ in sealed:
                dict_.pop(attr, None)
        raise


def _cipher_of(session: Session | None, mapper: Mapper[Any]) -> SecretCipher:
    if session is None:  # not reached by the ORM's own loads, which run in a session
        cipher = environment_cipher()
        if cipher is None:
            raise missing_key()
        return cipher
    return require_cipher(session.get_bind(mapper=mapper).dialect)


def seal_secret_columns(base: type) -> None:
    """Bind the secret columns of every class mapped on `base` to their rows (see the module docstring)."""
    event.listen(base, "before_insert", _bind_for_insert, propagate=True)
    event.listen(base, "before_update", _bind_for_update, propagate=True)
    event.listen(base, "after_insert", _after_insert, propagate=True)
    event.listen(base, "after_update", _after_update, propagate=True)
    # raw: the listeners get the InstanceState, not the object (loads are the hot path)
    event.listen(base, "load", _unseal_loaded, propagate=True, raw=True)
    event.listen(base, "refresh", _unseal_refreshed, propagate=True, raw=True)


def key_file_for(database: Path) -> Path:
    """Where the key of a SQLite database file lives when no key is configured: beside it, `<database>.key`."""
    return database.with_name(database.name + ".key")


def write_key_file(path: Path, key: str) -> None:
    """Write `key` to `path` readable by the owner only (0600), atomically: the file appears whole or not at all.

    Raises FileExistsError when `path` exists (another process won the race to create it).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # fails if the file exists, unlike rename
    finally:
        temporary.unlink(missing_ok=True)
    sync_directory(path.parent)


def replace_key_file(path: Path, staged: Path) -> None:
    """Atomically put the staged key file in place of `path`."""
    os.replace(staged, path)
    sync_directory(path.parent)


def read_key_file(path: Path, *, check: bool = True) -> str:
    """The key in `path`; with `check`, only from a private file of this user's (see check_key_file)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _symlink_refused(path) from None
        raise
    with os.fdopen(descriptor, encoding="ascii") as handle:
        if check:
            _check_key_file_status(path, os.fstat(handle.fileno()))
        return handle.read().strip()


def check_key_file(path: Path) -> None:
    """Refuse a key file others could read or replace, as ssh refuses such private keys.

    Raises:
        StoreKeyError: naming the fix: it is a symbolic link, not this user's, or readable or writable by others.
    """
    status = path.lstat()
    if stat.S_ISLNK(status.st_mode):
        raise _symlink_refused(path)
    _check_key_file_status(path, status)


def _check_key_file_status(path: Path, status: os.stat_result) -> None:
    if not hasattr(os, "geteuid"):
        return  # no POSIX owner and mode bits to check
    if not stat.S_ISREG(status.st_mode):
        raise StoreKeyError(f"the key file {path} is not a regular file")
    user = os.geteuid()
    if status.st_uid != user:
        raise StoreKeyError(
            f"the key file {path} is owned by user id {status.st_uid}, not by this user ({user}): "
            f"chown {user} {path}, or run as its owner"
        )
    if status.st_mode & 0o077:
        raise StoreKeyError(
            f"the key file {path} is open to other users (mode {stat.S_IMODE(status.st_mode):04o}): chmod 600 {path}"
        )


def _symlink_refused(path: Path) -> StoreKeyError:
    return StoreKeyError(
        f"the key file {path} is a symbolic link, which could point anywhere: replace it with the file itself"
    )


def load_or_create_key_file(path: Path) -> str:
    """The key in `path`, creating the file with a new key (mode 0600) at first use."""
    try:
        return read_key_file(path)
    except FileNotFoundError:
        pass
    key = generate_store_key()
    try:
        write_key_file(path, key)
    except FileExistsError:
        return read_key_file(path)
    return key


def sync_directory(directory: Path) -> None:
    """Make a rename or link in `directory` durable (POSIX)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
