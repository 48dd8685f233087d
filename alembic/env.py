"""Alembic environment for oauth2store's schema.

oauth2store runs migrations on a connection it passes in `config.attributes["connection"]`, so an in-memory SQLite
database and the store's connection settings (foreign keys, WAL) are the ones migrated. Run from the command line
(`alembic -c alembic.ini ...`, for writing new revisions), it connects to `OAUTH2STORE_URL` or `sqlalchemy.url`.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from oauth2store._migrations import VERSION_TABLE
from oauth2store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite can only ALTER by copying the table
        compare_type=True,
        **options,
    )


def _url() -> str:
    url = os.environ.get("OAUTH2STORE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set OAUTH2STORE_URL (or sqlalchemy.url in alembic.ini)")
    return url


def run_migrations_offline() -> None:
    """Emit the SQL as text instead of running it."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the caller's connection, or through a new engine from the command line."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
