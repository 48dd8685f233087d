"""Secrets at rest: every column declared `secret=True` holds a Fernet token, never the plaintext.

Why Fernet: it is authenticated (AES-128-CBC with an HMAC-SHA256 over version, time, IV and ciphertext), so a
wrong key or a tampered or plaintext value is refused (`InvalidToken`) instead of decrypting to garbage; its key is
one printable url-safe base64 string that fits an environment variable or a file; and it is the misuse-resistant
recipe of `cryptography`, with no nonce for us to manage. The cost is size (a token is about 4/3 of the plaintext
plus ~100 characters), so secret columns are TEXT and MAXLEN rules apply to the plaintext only.

How the key reaches the column type without a global engine: SQLAlchemy gives a type's bind and result processing
the engine's `Dialect`, and every `create_engine` makes its own dialect. `register_store_key(engine, key)` maps that
dialect to a cipher (a weak mapping, written once per engine, read without locks), so two stores with different
keys in one process never mix. An engine without a registered key falls back to `$OAUTH2STORE_KEY`; the Store
registers its key itself, an application's own engine calls `register_store_key` (or sets the variable).
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Dialect, Engine, Text
from sqlalchemy.types import TypeDecorator

from ._errors import StoreKeyError

#: Environment variable holding the key when the Store is given none.
KEY_VARIABLE = "OAUTH2STORE_KEY"
#: The plaintext of the key check stored in the database, to tell the right key from a wrong one up front.
KEY_CHECK_PLAINTEXT = "oauth2store key check v1"


def generate_store_key() -> str:
    """A new random key (32 bytes, url-safe base64), e.g. for `OAUTH2STORE_KEY`."""
    return Fernet.generate_key().decode("ascii")


class SecretCipher:
    """Encrypts and decrypts secret values with one key; its repr never shows the key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key.strip() if isinstance(key, bytes) else key.strip().encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            raise StoreKeyError(
                "the oauth2store key is not a valid key (32 url-safe base64-encoded bytes, see generate_store_key())"
            ) from None

    def __repr__(self) -> str:
        return "<SecretCipher>"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, where: str = "a secret") -> str:
        """The plaintext of `token`; StoreKeyError when this key did not encrypt it (or it is not a token)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise StoreKeyError(
                f"cannot decrypt {where}: the database was encrypted with another key (or the value is not encrypted)"
            ) from None


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


def check_key(engine: Engine, cipher: SecretCipher) -> None:
    """Raise StoreKeyError unless `cipher` opens the database's key check (a database without one passes)."""
    from .models.key_check import read_key_check  # the models import this module

    with engine.connect() as connection:
        verifier = read_key_check(connection)
    if verifier is not None:
        verify(cipher, verifier)


def verify(cipher: SecretCipher, verifier: str) -> None:
    """Raise StoreKeyError unless `verifier` is the key check encrypted with `cipher`'s key."""
    try:
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


class EncryptedText(TypeDecorator[str]):
    """A TEXT column whose values are Fernet tokens: encrypted on the way in, decrypted (and checked) on the way out.

    `iris_property(..., secret=True)` chooses this type. Equality filters on it cannot work (each encryption is
    randomized); look secrets up by their owner's key instead.
    """

    impl = Text()
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return require_cipher(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return require_cipher(dialect).decrypt(value)

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        raise StoreKeyError("secret values are never rendered into SQL text")


def key_file_for(database: str) -> Path:
    """Where the key of a SQLite database file lives when no key is configured: beside it, `<database>.key`."""
    path = Path(database).expanduser()
    return path.with_name(path.name + ".key")


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


def read_key_file(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


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
