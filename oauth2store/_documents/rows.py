"""The new rows of an import, written in bulk: the column values of checked objects, each secret sealed to its row.

An import of 100,000 clients through the ORM's unit of work pays its per-object bookkeeping (and the check before
every flush) a second time for objects the import has already checked; the new clients, their metadata and key
pairs are instead kept as plain tuples of column values and sent with executemany INSERTs. Secret columns refuse
any write that does not say where the value belongs (`Bound`), so each secret is bound here to its table, column
and primary key; a key pair's ID is assigned by the database, so its private JWK is inserted as a placeholder and
sealed by an executemany UPDATE once the INSERT returned the IDs, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Column, insert, inspect, update
from sqlalchemy.orm import Session

from .._encryption.cipher import Binding, row_key
from .._encryption.columns import Bound, EncryptedText
from ..models._validated import Validated

#: Rows sent per statement (executemany): big enough to amortize a round trip, small enough for any driver.
CHUNK = 1000


class NewRows:
    """Rows of one mapped class to insert, kept as tuples of column values in `columns` order.

    A value may be a `Validated` object standing for its primary key (a server definition the import inserts first,
    whose ID the database assigns): it is resolved when the rows are written.
    """

    def __init__(self, model: type[Validated]) -> None:
        self.model = model
        mapper = inspect(model)
        assigned = mapper.local_table.autoincrement_column
        #: (attribute key, column) of every column the rows carry; a key the database assigns is left out.
        self.columns: list[tuple[str, Column[Any]]] = [
            (attr.key, attr.columns[0]) for attr in mapper.column_attrs if attr.columns[0] is not assigned
        ]
        self._key_attributes = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
        self._assigned_key = len(self._key_attributes) == 1 and self._key_attributes[0] not in dict(self.columns)
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, obj: Validated, **replaced: Any) -> None:
        """Keep `obj`'s column values (with `replaced` ones instead); the object itself is not kept."""
        values = obj.__dict__
        self._rows.append(tuple(replaced[key] if key in replaced else values.get(key) for key, _column in self.columns))

    def write(self, session: Session, progress: Callable[[int], None] | None = None) -> None:
        """INSERT every row, CHUNK rows per statement, secrets sealed to their rows."""
        for start in range(0, len(self._rows), CHUNK):
            chunk = [self._resolved(row) for row in self._rows[start : start + CHUNK]]
            if self._assigned_key:
                self._insert_then_seal(session, chunk)
            else:
                session.execute(insert(self.model), [self._bound(row, row_key(self._key_of(row))) for row in chunk])
            if progress is not None:
                progress(len(chunk))
        self._rows.clear()

    def _insert_then_seal(self, session: Session, chunk: list[dict[str, Any]]) -> None:
        """Rows whose key the database assigns: inserted with a placeholder for each secret, then sealed by key."""
        key = self._key_attributes[0]
        mapper = inspect(self.model)
        returning = insert(self.model).returning(mapper.attrs[key].class_attribute, sort_by_parameter_order=True)
        ids = list(session.scalars(returning, [self._bound(row, None) for row in chunk]))
        sealed = [
            {key: row_id, **{attr: value for attr, value in self._bound(row, (row_id,)).items() if attr in secret}}
            for row_id, row in zip(ids, chunk, strict=True)
            if (secret := self._secrets_of(row))
        ]
        if sealed:
            session.execute(update(self.model), sealed)

    def _secrets_of(self, row: dict[str, Any]) -> set[str]:
        return {attr for attr, column in self.columns if isinstance(column.type, EncryptedText) and row[attr]}

    def _resolved(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """The row as {attribute: value}, an object standing for its key replaced by its (now assigned) key."""
        return {
            key: _primary_key(value) if isinstance(value, Validated) else value
            for (key, _column), value in zip(self.columns, row, strict=True)
        }

    def _key_of(self, row: dict[str, Any]) -> Sequence[object]:
        return [row[key] for key in self._key_attributes]

    def _bound(self, row: dict[str, Any], key: tuple[str | int, ...] | None) -> dict[str, Any]:
        """The row with each secret wrapped in a `Bound` naming its place (None: not known until the INSERT)."""
        bound = dict(row)
        for attr, column in self.columns:
            value = row[attr]
            if value is not None and isinstance(column.type, EncryptedText):
                place = None if key is None else Binding(column.table.name, column.name, key)
                bound[attr] = Bound(value, place)
        return bound


def _primary_key(obj: Validated) -> object:
    (key,) = inspect(obj).mapper.primary_key_from_instance(obj)
    if key is None:
        raise RuntimeError(f"{obj!r} has no key yet: write the rows it names after it is flushed")
    return key


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
