"""The declarative base and the column helper for IRIS-style properties.

Each IRIS property becomes a column made by `iris_property`, whose `info["rules"]` carries the IRIS parameters
(Required, MINLEN, MAXLEN, VALUELIST, InitialExpression). That one declaration feeds the SQL type, the per-property
check without an instance (IRIS's `<Prop>IsValid`), and the checks of `oauth2store.models._validated`.
`secret=True` makes the column encrypted at rest (`EncryptedText`); its messages never show the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from .._encryption.columns import EncryptedText
from .._encryption.events import seal_secret_columns
from .._validation import (
    INT32_RANGE,
    Kind,
    Rules,
)

#: Named constraints, so that alembic can alter and drop them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_UNSET: Any = object()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite keeps no offset, so it is dropped on write and restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: oauth2store stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every oauth2store table; its `metadata` is what the alembic migrations describe."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Secret columns are bound to their rows in the ORM's flush and load events (see oauth2store._encryption).
seal_secret_columns(Base)


def _sql_type(rules: Rules) -> TypeEngine[Any]:
    if rules.secret:
        # Encrypted at rest (see oauth2store._encryption); MAXLEN applies to the plaintext, the column holds a token.
        return EncryptedText()
    if rules.valuelist is not None:
        # A VARCHAR with a named CHECK on every backend: the schema refuses what validation refuses.
        return Enum(
            *rules.valuelist,
            name=rules.iris_name,
            native_enum=False,
            create_constraint=True,
            length=max(len(v) for v in rules.valuelist),
        )
    if rules.kind is Kind.INTEGER:
        return Integer()
    if rules.kind is Kind.BOOLEAN:
        return Boolean(create_constraint=False)
    if rules.kind in (Kind.LIST, Kind.URI_LIST, Kind.JSON):
        return JSON()
    return String(rules.maxlen) if rules.maxlen is not None else Text()


def iris_property(
    sql_name: str,
    kind: Kind = Kind.STRING,
    *schema_items: Any,
    required: bool = False,
    minlen: int | None = None,
    maxlen: int | None = None,
    valuelist: Iterable[str] | None = None,
    minval: int | None = None,
    initial: Any = _UNSET,
    secret: bool = False,
    **column_options: Any,
) -> MappedColumn[Any]:
    """A column for one IRIS property: SQL name, SQL type and NOT NULL all follow from the IRIS parameters."""
    integer = kind is Kind.INTEGER
    rules = Rules(
        iris_name=sql_name,
        kind=kind,
        required=required,
        minlen=minlen,
        maxlen=maxlen,
        valuelist=tuple(str(value) for value in valuelist) if valuelist is not None else None,
        minval=minval if minval is not None or not integer else INT32_RANGE[0],
        maxval=INT32_RANGE[1] if integer else None,  # the SQL INTEGER column's range, on every backend
        secret=secret,
    )
    info: dict[str, Any] = {"rules": rules}
    if initial is not _UNSET:
        info["initial"] = initial
    column_options.setdefault("nullable", not required)
    return mapped_column(sql_name, _sql_type(rules), *schema_items, info=info, **column_options)
