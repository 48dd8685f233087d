"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, and factories for valid definitions.

PostgreSQL tests run against the server named by OAUTH2STORE_TEST_POSTGRES_URL, each test in a schema of its own
(selected through the URL's `options=-csearch_path=...`, so that subprocesses given the URL land there too).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from oauth2store import Client, Endpoint, ServerDefinition, Store
from oauth2store._encryption.cipher import generate_store_key
from oauth2store._encryption.registry import KEY_VARIABLE

# Every store in the tests (and in the subprocesses they start) encrypts its secrets with one key for the run;
# tests of the key file and of missing keys remove it with monkeypatch.
os.environ.setdefault(KEY_VARIABLE, generate_store_key())

POSTGRES_URL_VARIABLE = "OAUTH2STORE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _postgres_schema_url(base: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the given backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
        )
    yield from _postgres_schema_url(base)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    yield from backend_url(request.param, tmp_path)


@pytest.fixture
def empty_postgres_url(tmp_path: Path) -> Iterator[str]:
    """A second, empty PostgreSQL database (schema), e.g. the target of a migration between stores."""
    yield from backend_url("postgresql", tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store migrated to the newest schema."""
    with Store(store_url) as migrated:
        migrated.upgrade()
        yield migrated


@pytest.fixture
def session(store: Store) -> Iterator[Session]:
    """A session whose transaction the test controls (it is rolled back at the end)."""
    with store.engine.connect() as connection, Session(connection) as db:
        yield db
        db.rollback()


def server_values(**overrides: Any) -> dict[str, Any]:
    issuer = overrides.pop("issuer_endpoint", "https://as.example.com")
    values: dict[str, Any] = {"issuer_endpoint": issuer}
    values.update(overrides)
    return values


def new_server(**overrides: Any) -> ServerDefinition:
    """A valid server definition that has not been saved."""
    server = ServerDefinition(**server_values(**overrides))
    issuer = server.issuer_endpoint
    server.server_metadata.issuer = issuer
    server.server_metadata.authorization_endpoint = f"{issuer}/authorize"
    server.server_metadata.token_endpoint = f"{issuer}/token"
    return server


def new_client(server: ServerDefinition, **overrides: Any) -> Client:
    """A valid confidential client that has not been saved."""
    values: dict[str, Any] = {
        "application_name": "orders-service",
        "client_type": "confidential",
        "client_id": "orders",
        "client_secret": "orders-secret",
        "server_definition": server,
        "redirection_endpoint": Endpoint("app.example.com", None, "oauth2/callback"),
    }
    values.update(overrides)
    return Client(**values)


@pytest.fixture
def server(session: Session) -> ServerDefinition:
    """A saved server definition."""
    saved = new_server()
    session.add(saved)
    session.flush()
    return saved


@pytest.fixture
def make_client(session: Session, server: ServerDefinition) -> Callable[..., Client]:
    """Saves and returns a valid client, with any property overridden."""

    def make(**overrides: Any) -> Client:
        client = new_client(server, **overrides)
        session.add(client)
        session.flush()
        return client

    return make
