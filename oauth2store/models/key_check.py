"""The key check: one row holding a known text encrypted with the store key.

The Store reads it before the first session, so a wrong key is refused before anything is written with it (a
database must never hold secrets under two keys), and `rekey` re-encrypts it with the secrets. Every reader goes
through oauth2store._encryption.key_check.read_key_check (a layer below the models, so `register_store_key` can use
it).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, Table, Text

from .._encryption.key_check import KEY_CHECK
from .base import Base

#: The ID of the one row.
KEY_CHECK_ID = KEY_CHECK.key[0]

#: Verifier is oauth2store._encryption.key_check.KEY_CHECK_PLAINTEXT sealed with the store key to this row (raw
#: Text, not EncryptedText: the Store decrypts it itself, to tell "wrong key" from "no key").
key_check = Table(
    KEY_CHECK.table,
    Base.metadata,
    Column("ID", Integer, primary_key=True, autoincrement=False),
    Column(KEY_CHECK.column, Text, nullable=False),
)
