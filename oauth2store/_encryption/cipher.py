"""The store key and the sealed-value format: AES-256-GCM bound to the value's place (`Binding`), and `SecretCipher`.

The value: "v2:" + url-safe base64 of a 96-bit random nonce and the AES-256-GCM ciphertext and tag, with the
associated data naming the value's place: its table, its column and its row's primary key (`Binding`). A ciphertext
copied to another row, column or table, or a tampered one, fails authentication (`StoreKeyError`) instead of
decrypting. The AES key is derived (HKDF-SHA256) from the store key, which keeps its Fernet form (32 url-safe
base64 bytes, `generate_store_key()`): one printable string for a variable or a file, and existing key files and
`$OAUTH2STORE_KEY` values keep working. Revisions 0002 and 0003 stored Fernet tokens (no prefix, not bound to a
place); `SecretCipher.encrypt`/`decrypt` keep that format for their migrations, and revision 0004 re-encrypts them.

This module knows values and places only, never an engine, a table object or a file: the migrations use it on raw
rows, and every other module of the package builds on it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .._errors import StoreKeyError

#: How every sealed value starts; a Fernet token (revisions 0002-0003) never contains ":".
SEALED_PREFIX = "v2:"
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
