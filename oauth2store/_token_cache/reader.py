"""Reads around the ORM for the token path: one compiled statement, one pooled DBAPI connection, no transaction.

The cold path (a token in the store, not yet in this process) and the periodic check of a client's definition run
often, in short-lived processes too; the ORM and Core execution layers cost several times the query itself, so
these go straight to the driver. The columns' own result processors still run (aware UTC datetimes, JSON,
booleans), and a token is decrypted with its row's ID, to which it is bound (see oauth2store._encryption).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, bindparam, select

from .._encryption.columns import unseal_value
from .._tokens import Token
from ..models.access_token import AccessToken
from ..models.client import Client


class RawStatement:
    """A SELECT compiled once for the engine's dialect, run on a pooled DBAPI connection in autocommit."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self._types = [column.type.dialect_impl(dialect) for column in statement.selected_columns]
        self._processors: list[Any] | None = None  # made at the first execution, from the driver's column types

    def first(self, **values: Any) -> list[Any] | None:
        """The first row for these parameters, each value through its column's result processor; None if none."""
        parameters: Any = tuple(values[name] for name in self._order) if self._order is not None else values
        connection = self._engine.raw_connection()
        driver = connection.dbapi_connection
        # One statement needs no transaction: in autocommit (psycopg and the like) the read is one round trip,
        # with no BEGIN before it and no ROLLBACK when the pool takes the connection back.
        autocommit = getattr(driver, "autocommit", None) is False
        try:
            if autocommit:
                driver.autocommit = True  # type: ignore[union-attr]
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, parameters)
                row = cursor.fetchone()
                if self._processors is None:
                    dialect = self._engine.dialect
                    codes = [column[1] for column in cursor.description]
                    self._processors = [t.result_processor(dialect, c) for t, c in zip(self._types, codes, strict=True)]
            finally:
                cursor.close()
                if autocommit:
                    driver.autocommit = False  # type: ignore[union-attr]
        finally:
            connection.close()  # back to the pool
        if row is None:
            return None
        processors = self._processors or [None] * len(row)
        return [value if p is None else p(value) for p, value in zip(processors, row, strict=True)]


@dataclass(frozen=True)
class Stored:
    """A client's definition as stored now, and its stored token for one key (None: none for this definition)."""

    version: str
    enabled: bool
    token: Token | None
    default_scope: str | None = None


def token_from(values: list[Any]) -> Token | None:
    """A Token from the stored columns (AccessToken, TokenType, Scope, Expires, ResponseProperties)."""
    access_token, token_type, scope, expires, properties = values
    if not access_token or expires is None:
        return None
    properties = properties or {}
    expires_in, refresh_in = properties.get("expires_in"), properties.get("refresh_in")
    issued = expires - timedelta(seconds=expires_in) if isinstance(expires_in, int | float) else None
    advice = timedelta(seconds=refresh_in) if isinstance(refresh_in, int | float) else None
    return Token(access_token, token_type or "Bearer", expires, scope, issued, advice)


class StoreReader:
    """The token path's read of one store: a client's definition with its stored token for a key, one statement."""

    def __init__(self, engine: Engine) -> None:
        clients, tokens = Client.__table__, AccessToken.__table__
        joined = clients.outerjoin(
            tokens,
            and_(tokens.c.ApplicationName == clients.c.ApplicationName, tokens.c.SessionId == bindparam("session_id")),
        )
        token_columns = (
            "AccessToken",
            "TokenType",
            "Scope",
            "Expires",
            "ResponseProperties",
            "ID",
            "DefinitionVersion",
        )
        self._token = RawStatement(
            engine,
            select(
                clients.c.DefinitionVersion,
                clients.c.Enabled,
                clients.c.DefaultScope,
                *(tokens.c[name] for name in token_columns),
            )
            .select_from(joined)
            .where(clients.c.ApplicationName == bindparam("application_name")),
        )
        self._dialect = engine.dialect

    def read(self, application_name: str, key: str) -> Stored | None:
        """The client's stored definition version and its token for `key` (None when the client does not exist).

        A token stored under another definition version than the client's is left out: it is never handed out.
        """
        row = self._token.first(application_name=application_name, session_id=key)
        if row is None:
            return None
        version, enabled, default_scope, *fields, row_id, token_version = row
        token = None
        if row_id is not None and token_version == version:
            fields[0] = unseal_value(self._dialect, AccessToken.__tablename__, "AccessToken", (row_id,), fields[0])
            token = token_from(fields)
        return Stored(version, bool(enabled), token, default_scope)
