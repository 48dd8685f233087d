"""The key check: one row holding a known text encrypted with the store key.

The Store reads it before the first session, so a wrong key is refused before anything is written with it (a
database must never hold secrets under two keys), and `rekey` re-encrypts it with the secrets. Every reader goes
through `read_key_check`, so "no key check yet" and "no key-check table" (a database below revision 0002) mean the
same everywhere.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, Table, Text, inspect, select

from .._encryption import KEY_CHECK
from .base import Base

#: The ID of the one row.
KEY_CHECK_ID = KEY_CHECK.key[0]

#: Verifier is oauth2store._encryption.KEY_CHECK_PLAINTEXT sealed with the store key to this row (raw Text, not
#: EncryptedText: the Store decrypts it itself, to tell "wrong key" from "no key").
key_check = Table(
    KEY_CHECK.table,
    Base.metadata,
    Column("ID", Integer, primary_key=True, autoincrement=False),
    Column(KEY_CHECK.column, Text, nullable=False),
)


def has_key_check_table(connection: Connection) -> bool:
    return inspect(connection).has_table(key_check.name)


def read_key_check(connection: Connection, *, lock: bool = False) -> str | None:
    """The database's key check, or None when it has none yet (or no key-check table at all).

    `lock` also locks the row until the transaction ends (FOR UPDATE; SQLite has no row locks, its writers
    serialize on the database), for a rekey that must not race another.
    """
    if not has_key_check_table(connection):
        return None
    statement = select(key_check.c.Verifier).where(key_check.c.ID == KEY_CHECK_ID)
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    verifier: str | None = connection.scalar(statement)
    return verifier
