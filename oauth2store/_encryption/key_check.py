"""The key check: a known text sealed with the store key, to tell the database's key from a wrong one up front.

A database must never hold secrets under two keys, so a key is checked against this one row before anything is
written with it. The row's schema is oauth2store.models.key_check; this module is its one reader and knows the row
as a plain table, a layer below the models, so that `register_store_key` (for any engine) can check a key too.
"""

from __future__ import annotations

from sqlalchemy import ColumnClause, Connection, Engine, Integer, Text, inspect, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from .._errors import StoreKeyError
from .cipher import SEALED_PREFIX, Binding, SecretCipher

#: The plaintext of the key check stored in the database, to tell the right key from a wrong one up front.
KEY_CHECK_PLAINTEXT = "oauth2store key check v1"
#: The one key-check row (see models.key_check).
KEY_CHECK = Binding("OAuth2_KeyCheck", "Verifier", (1,))

#: The key-check table as its reader needs it (its definition for the schema is oauth2store.models.key_check).
_key_check_row = sql_table(KEY_CHECK.table, sql_column("ID", Integer), sql_column(KEY_CHECK.column, Text))


def seal_key_check(cipher: SecretCipher) -> str:
    return cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK)


def has_key_check_table(connection: Connection) -> bool:
    return inspect(connection).has_table(KEY_CHECK.table)


def read_key_check(connection: Connection, *, lock: bool = False, share: bool = False) -> str | None:
    """The database's key check, or None when it has none yet (or no key-check table: below revision 0002).

    The one reader of the key check, so "none yet" and "no table" mean the same to every caller. `lock` also locks
    the row until the transaction ends (FOR UPDATE; SQLite has no row locks, its writers serialize on the
    database), for a rekey that must not race another; `share` locks it FOR SHARE, for a writer of secrets that
    must not write with a key a concurrent rekey is replacing.
    """
    if not has_key_check_table(connection):
        return None
    row_id: ColumnClause[int] = _key_check_row.c.ID
    statement = select(_key_check_row.c[KEY_CHECK.column]).where(row_id == KEY_CHECK.key[0])
    if (lock or share) and connection.dialect.name != "sqlite":
        statement = statement.with_for_update(read=not lock)
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
