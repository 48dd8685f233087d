"""The migrations and the models agree, and upgrade -> downgrade -> upgrade round-trips, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from oauth2store import Base, Store
from oauth2store._migrations import VERSION_TABLE, head_revision


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_downgrade_upgrade(store_url: str) -> None:
    with Store(store_url) as store:
        store.upgrade()
        assert store.current_revision() == head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        store.downgrade("base")
        assert store.current_revision() is None
        assert not set(Base.metadata.tables) & set(inspect(store.engine).get_table_names())
        store.upgrade()
        assert store.current_revision() == head_revision()
        with store.session() as db:
            from oauth2store import SSLConfiguration

            assert db.get(SSLConfiguration, "default") is not None


def test_version_table_is_private(store: Store) -> None:
    """An application's own alembic history (table alembic_version) is left alone."""
    assert "alembic_version" not in inspect(store.engine).get_table_names()
    assert VERSION_TABLE in inspect(store.engine).get_table_names()
