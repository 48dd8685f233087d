"""The column type of secrets: `EncryptedText` seals a `Bound` plaintext on the way in, marks what it reads `Sealed`.

A column type sees one value and the dialect, never the row, so it cannot know where a value belongs: the ORM's
events (oauth2store._encryption.events) wrap each plaintext being written in a `Bound` carrying its `Binding`, and
open what the type read. Doing the cryptography in the type (not in the events) keeps one path for every value,
and a plaintext can never reach the database through the type: any other plaintext reaching it (a bulk or Core
UPDATE/INSERT) is refused, since it cannot know its row. Putting the key columns into the value (e.g. a SQL
expression over them) would cover Core reads too, but not writes, and would tie each statement's SQL to its
dialect. Code reading a secret column around the ORM passes the row key itself (`unseal_value`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Dialect, Text
from sqlalchemy.exc import DontWrapMixin
from sqlalchemy.types import TypeDecorator

from .._errors import StoreKeyError
from .cipher import SEALED_PREFIX, Binding, row_key
from .registry import require_cipher

#: What a row whose key the database assigns holds between its INSERT and its UPDATE (in one flush): never opens.
PENDING = SEALED_PREFIX


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
