"""The one row lock: read-modify-write work on a stored object (renewing a client's token, registering it, rotating
its keys) waits for other processes doing the same, instead of racing them.

PostgreSQL and others: the row `FOR NO KEY UPDATE`, which does not block inserts of rows that reference it (tokens,
keys). SQLite has no row locks: a no-op UPDATE of the row (its key set to itself, which no foreign key action sees
as a change) takes the database's write lock for the rest of the transaction; a transaction begun IMMEDIATE already
holds it (see `Store.session(write=True)`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

#: Execution option: a SQLite connection with it set begins its transactions with BEGIN IMMEDIATE (the write lock;
#: see oauth2store._sqlite, which emits the BEGIN). Here, below the models, so that they can tell a session holding
#: the lock from its bind.
SQLITE_BEGIN_IMMEDIATE = "oauth2store_sqlite_begin_immediate"


def lock_row(session: Session, key: InstrumentedAttribute[Any], value: object) -> None:
    """Hold the lock of the row whose `key` column equals `value` until the session's transaction ends."""
    if session.get_bind().dialect.name == "sqlite":
        statement = update(key.class_).where(key == value).values({key: key})
        session.execute(statement.execution_options(synchronize_session=False))
    else:
        session.execute(select(key).where(key == value).with_for_update(key_share=True))
