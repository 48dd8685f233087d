"""Which store key each engine uses: `register_store_key`, with `$OAUTH2STORE_KEY` as the fallback.

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

from sqlalchemy import Dialect, Engine

from .._errors import StoreKeyError
from .cipher import SecretCipher
from .key_check import check_key

#: Environment variable holding the store key when the Store is given none.
KEY_VARIABLE = "OAUTH2STORE_KEY"

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
