"""Validation at flush costs a constant per object flushed: pinned by counting, never by timing.

A flush of N new clients sends a number of SQL statements that does not grow per client with N, and the checks
touch `session.new` a number of times linear in N (scanning it once per object made a 2,000-client import
quadratic).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from factories import new_client
from sqlalchemy import event
from sqlalchemy.orm import Session

from oauth2store import Client, ServerDefinition, SSLConfiguration, Store, ValidationError
from oauth2store.models import _flush


def _add_clients(session: Session, server: ServerDefinition, count: int, prefix: str) -> None:
    for i in range(count):
        session.add(
            new_client(server, application_name=f"{prefix}-{i}", client_id=f"{prefix}-id-{i}", ssl_configuration="tls")
        )


def _statements_of_flush(session: Session, server: ServerDefinition, count: int, prefix: str) -> int:
    _add_clients(session, server, count, prefix)
    statements = 0

    def counted(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return statements


@pytest.fixture
def tls(session: Session) -> None:
    tls = SSLConfiguration(name="tls")
    session.add(tls)
    session.flush()
    session.expunge(tls)  # the references are looked up in the database, not found in the session


def test_statements_per_client_do_not_grow_with_the_flush(
    session: Session, server: ServerDefinition, tls: None
) -> None:
    small = _statements_of_flush(session, server, 50, "small")
    large = _statements_of_flush(session, server, 200, "large")
    assert large / 200 <= small / 50 + 0.05, (small, large)
    # The uniqueness and reference checks ask the database once per kind, not once per client.
    assert large < 200, large


class _CountingNew:
    """`session.new` that counts the objects handed out by iterating over it."""

    def __init__(self, objects: Any, counter: list[int]) -> None:
        self._objects, self._counter = objects, counter

    def __iter__(self) -> Iterator[object]:
        for obj in self._objects:
            self._counter[0] += 1
            yield obj

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, obj: object) -> bool:
        return obj in self._objects


def _new_iterations(session: Session, server: ServerDefinition, count: int, monkeypatch: Any) -> int:
    _add_clients(session, server, count, f"n{count}")
    counter = [0]
    original = Session.new
    with monkeypatch.context() as patched:
        patched.setattr(Session, "new", property(lambda s: _CountingNew(original.fget(s), counter)))  # type: ignore[attr-defined]
        session.flush()
    return counter[0]


def test_checks_touch_the_new_objects_a_linear_number_of_times(
    session: Session, server: ServerDefinition, tls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _new_iterations(session, server, 200, monkeypatch)
    large = _new_iterations(session, server, 800, monkeypatch)
    assert 3.5 < large / small < 4.5, (small, large)


def test_checks_outside_a_flush_still_see_the_new_objects(session: Session, server: ServerDefinition) -> None:
    """`validate()` called by hand (no flush under way) finds a reference saved with it and a duplicate."""
    session.add(SSLConfiguration(name="new-tls"))
    client = new_client(server, ssl_configuration="new-tls")
    session.add(client)
    client.validate()
    assert _flush.index_of(session).new_count(Client, "orders-service") == 1


@pytest.mark.parametrize("value", [["list"], {"a": 1}, {1, 2}])
def test_an_unhashable_reference_is_a_validation_error(
    session: Session, server: ServerDefinition, value: object
) -> None:
    """The flush index only looks up keys a query can hold: anything else is left to the property's own rule."""
    client = Client(
        application_name="odd",
        client_type="confidential",
        client_id="odd",
        client_secret="s",
        server_definition=server,
    )
    client.client_metadata.grant_types = ["client_credentials"]
    client.client_credentials = value  # type: ignore[assignment]
    session.add(client)
    with pytest.raises(ValidationError, match="client_credentials"):
        session.flush()


def test_open_is_one_select(store: Store, server: ServerDefinition, session: Session) -> None:
    """Client.Open loads the client, its metadata, its server and the server's metadata in one round trip; the keys
    are loaded when first touched."""
    client = new_client(server)
    session.add(client)
    session.flush()
    client.RotateKeys()
    session.commit()
    with store.session():
        pass  # the store's first session checks the schema and the key
    statements: list[str] = []

    def counted(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", counted)
    try:
        with store.session() as db:
            opened = Client.Open(db, "orders-service")
            assert opened is not None
            assert opened.client_metadata.token_endpoint_auth_method == "client_secret_basic"
            assert opened.server_definition.server_metadata.token_endpoint is not None
            opened_statements = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
            assert len(opened_statements) == 1, opened_statements
            assert len(opened.keys) == 1  # loaded now
    finally:
        event.remove(store.engine, "before_cursor_execute", counted)
