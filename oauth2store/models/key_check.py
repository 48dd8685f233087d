"""The key check: one row holding a known text encrypted with the store's key.

The Store reads it before the first session, so a wrong key is refused before anything is written with it (a
database must never hold secrets under two keys), and `rekey` re-encrypts it with the secrets.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, Table, Text

from .base import Base

#: ID is always 1; Verifier is a Fernet token of oauth2store._encryption.KEY_CHECK_PLAINTEXT (raw, not EncryptedText:
#: the Store decrypts it itself, to tell "wrong key" from "no key").
key_check = Table(
    "OAuth2_KeyCheck",
    Base.metadata,
    Column("ID", Integer, primary_key=True, autoincrement=False),
    Column("Verifier", Text, nullable=False),
)
