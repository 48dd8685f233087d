"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, saved definitions, and the loopback providers.

PostgreSQL tests run against the server named by OAUTH2STORE_TEST_POSTGRES_URL, each test in a schema of its own
(selected through the URL's `options=-csearch_path=...`, so that subprocesses given the URL land there too).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_shell import Shell, seeded_shell
from factories import new_client, new_server
from oidc_provider import OidcProvider
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from oauth2store import Client, ServerDefinition, Store
from oauth2store._encryption.cipher import generate_store_key
from oauth2store._encryption.registry import KEY_VARIABLE

# Every store in the tests (and in the subprocesses they start) encrypts its secrets with one key for the run;
# tests of the key file and of missing keys remove it with monkeypatch.
os.environ.setdefault(KEY_VARIABLE, generate_store_key())

POSTGRES_URL_VARIABLE = "OAUTH2STORE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]

_SHARED_TTL = {"ClientCredentials": 300, "AccessToken": 300}
_INITIAL_ACCESS_TOKEN = "initial-access-token-for-the-tests"


def _postgres_url() -> str | None:
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


def _backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the given backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
        )
    yield from _postgres_schema_url(base)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    yield from _backend_url(request.param, tmp_path)


@pytest.fixture
def empty_postgres_url(tmp_path: Path) -> Iterator[str]:
    """A second, empty PostgreSQL database (schema), e.g. the target of a migration between stores."""
    yield from _backend_url("postgresql", tmp_path)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the newest schema once per run, which each SQLite `store` starts as a copy of.

    Copying the file takes about a millisecond where migrating takes about 80: hundreds of tests use a store. The
    copy is the test's own file (the template is closed, and never opened again), so no test sees another's data.
    """
    path = tmp_path_factory.mktemp("template") / "store.db"
    with Store(f"sqlite:///{path}") as template:
        template.upgrade()
    return path


@pytest.fixture
def store(store_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store migrated to the newest schema (on SQLite: a copy of `migrated_sqlite_template`, upgraded again)."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        database = Path(str(url.database))
        shutil.copyfile(template, database)
        database.chmod(0o600)  # as the store makes its database files
    with Store(store_url) as migrated:
        migrated.upgrade()
        yield migrated


@pytest.fixture
def session(store: Store) -> Iterator[Session]:
    """A session whose transaction the test controls (it is rolled back at the end)."""
    with store.engine.connect() as connection, Session(connection) as db:
        yield db
        db.rollback()


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


@pytest.fixture
def shell(store_url: str, capsys: pytest.CaptureFixture[str]) -> Shell:
    """The command on a migrated store holding the server definition 1 (cli_shell.ISSUER) and the client `svc`."""
    return seeded_shell(store_url, capsys)


# -- the loopback oidc-provider ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def oidc() -> Iterator[OidcProvider]:
    """One oidc-provider for every test that only needs clients of its own: open dynamic registration.

    Each test registers the clients it uses (`oidc.register(...)`, RFC 7591) rather than sharing static ones: a
    registered client_id is new to the provider, so its token request counters start at zero, a secret the test
    changes or a registration it deletes touches no other test, and no test depends on another having run. Static
    clients would need one list in this file for the whole suite and counters reset between tests.

    The provider is never restarted (that would forget every registered client, which oidc-provider keeps in
    memory): tests that rotate its keys or need other settings (token lifetimes, a required initial access token)
    start their own, or use `protected_oidc`. Access tokens live 300 s (`oidc.ttl`); test_agent's expiry checks
    count on it.
    """
    with OidcProvider(ttl=_SHARED_TTL) as provider:
        yield provider


@pytest.fixture(scope="session")
def protected_oidc() -> Iterator[OidcProvider]:
    """One oidc-provider whose dynamic registration requires an initial access token (`.initial_access_token`).

    Shared like `oidc`, for the same reasons; `protected_oidc.register(...)` sends the token.
    """
    with OidcProvider(initial_access_token=_INITIAL_ACCESS_TOKEN) as provider:
        yield provider
