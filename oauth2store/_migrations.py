"""The schema's alembic migrations, run on a connection the caller owns (alembic cookbook, "Sharing a Connection").

The migrations live in the repository's top-level `alembic/` and ship inside the wheel as `oauth2store/_alembic`.
A private version table keeps them apart from an application's own alembic history in the same database. Only
migrating loads this module (and alembic): the schema check when a store opens reads the version with
`_schema_version`, without alembic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from ._schema_version import VERSION_TABLE as VERSION_TABLE


def script_location() -> Path:
    """The packaged migrations when installed, else the checkout's `alembic/` (editable installs)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_alembic", here.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"oauth2store's migrations are missing (looked in {here / '_alembic'})")


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config built in code; env.py migrates `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of oauth2store knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("oauth2store's migrations have no head revision")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None when oauth2store's tables were never created."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate the database on `connection` up to `revision`."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Migrate the database on `connection` down to `revision` ("base" removes every oauth2store table)."""
    command.downgrade(alembic_config(connection), revision)
