"""The schema revision a database is at and the one this version of oauth2store needs, read without alembic.

Checking the schema is part of opening a store, and a short-lived process (a cron job calling `oauth2store token`)
should not load alembic for it: the version table is read with a plain SELECT, and the head revision is a constant
that a test compares with alembic's scripts. Alembic itself is loaded only to migrate (`_migrations`).
"""

from __future__ import annotations

from sqlalchemy import Connection, String, column, inspect, select, table

#: oauth2store's own alembic version table, apart from an application's alembic history in the same database.
VERSION_TABLE = "oauth2store_alembic_version"

#: The newest revision of the migrations in `alembic/versions` (a test checks it against alembic's scripts).
HEAD_REVISION = "0006"

_version_table = table(VERSION_TABLE, column("version_num", String(32)))


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None when oauth2store's tables were never created.

    As alembic's `MigrationContext.get_current_revision` reads it: no version table or no row is None, and more
    than one row (branches, which oauth2store's linear history never makes) is refused.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = list(connection.scalars(select(_version_table.c.version_num)))
    if len(versions) > 1:
        raise RuntimeError(f"{VERSION_TABLE} has more than one revision: {', '.join(versions)}")
    return versions[0] if versions else None
