"""The IRIS class queries (`List`, `ListForServer`) as ORM selects that stream, page and compose.

IRIS runs a class query through a result set that fetches row by row; `ListQuery` does the same: iterating
streams in batches (constant memory however large the store), `page` pages by key, and `statement` is the plain
select for an application to refine (`.where(...)`, `.limit(...)`) and run itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

#: Rows fetched per round trip while streaming.
BATCH_SIZE = 1000


class ListQuery:
    """One IRIS query bound to a session; rows come out ordered by `key`."""

    def __init__(self, session: Session, statement: Select[*tuple[Any, ...]], key: Any) -> None:
        self.session = session
        #: The select, ordered by the key: compose it freely, then run it with `session.execute`.
        self.statement = statement.order_by(key)
        self._unordered = statement
        self._key = key

    def __iter__(self) -> Iterator[Row[Any]]:
        result = self.session.execute(self.statement.execution_options(yield_per=BATCH_SIZE))
        try:
            yield from result
        finally:
            result.close()  # a loop that stops early must not leave the cursor open

    def all(self) -> list[Row[Any]]:
        """Every row, in a list."""
        return list(self.session.execute(self.statement))

    def page(self, *, after: object = None, size: int = 100) -> list[Row[Any]]:
        """Up to `size` rows whose key comes after `after` (keyset paging: each page costs the same)."""
        if size < 1:
            raise ValueError("size must be at least 1")
        statement = self._unordered if after is None else self._unordered.where(self._key > after)
        return list(self.session.execute(statement.order_by(self._key).limit(size)))
