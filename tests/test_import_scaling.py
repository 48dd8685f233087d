"""An import costs a constant per object: pinned by counting checks and statements, never by timing.

The import of a 2,000-client document calls each per-object check a number of times linear in the clients (one
flush index for the whole document, not one per object), sends a number of SQL statements that does not grow per
client, and the streamed export writes the same text as the document it would build in memory.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from oauth2store import Client, export_document, import_document, write_document
from oauth2store.models import _flush, _validated

#: The module of Client, which calls its cross-field rules and reference check by the names it imported.
client_module = importlib.import_module("oauth2store.models.client")

ISSUER = "https://as.example.com"


def _document(count: int, prefix: str = "app") -> dict[str, Any]:
    server = {
        "issuer_endpoint": ISSUER,
        "metadata": {
            "issuer": ISSUER,
            "token_endpoint": f"{ISSUER}/token",
            "grant_types_supported": ["client_credentials"],
        },
    }
    clients = [
        {
            "application_name": f"{prefix}-{i:05d}",
            "client_type": "confidential",
            "client_id": f"{prefix}-id-{i}",
            "client_secret": f"secret-{i}",
            "server": ISSUER,
            "metadata": {"grant_types": ["client_credentials"]},
        }
        for i in range(count)
    ]
    return {"format": "oauth2store/1", "servers": [server], "clients": clients}


def _counting(monkeypatch: pytest.MonkeyPatch, counts: Counter[str], owner: Any, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def _checks_of_import(session: Session, count: int, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    with monkeypatch.context() as patched:
        _counting(patched, counts, _validated.Validated, "problems")
        _counting(patched, counts, _validated.Validated, "value_problems")
        _counting(patched, counts, client_module, "client_problems")
        _counting(patched, counts, client_module, "missing_reference")
        _counting(patched, counts, _flush.FlushIndex, "__init__")
        import_document(session, _document(count, prefix=f"n{count}"))
    return counts


def test_an_import_of_2000_clients_calls_each_check_a_linear_number_of_times(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _checks_of_import(session, 500, monkeypatch)
    large = _checks_of_import(session, 2000, monkeypatch)
    for check in ("problems", "value_problems", "client_problems", "missing_reference"):
        assert small[check] >= 500, (check, small)
        assert 3.9 <= large[check] / small[check] <= 4.1, (check, small, large)
    # One index of the names for the whole document (and one per flush), never one per object.
    assert large["__init__"] <= small["__init__"] <= 2, (small, large)


def _statements_of_import(session: Session, document: dict[str, Any]) -> int:
    statements = 0

    def counted(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        import_document(session, document)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return statements


def test_statements_of_an_import_do_not_grow_per_client(session: Session) -> None:
    small = _statements_of_import(session, _document(100, "small"))
    large = _statements_of_import(session, _document(900, "large"))
    assert large <= small + 2, (small, large)  # the same statements, a few more rows each
    again = _statements_of_import(session, _document(900, "large"))  # every client stored and unchanged
    assert again <= small + 2, (small, again)
    assert session.get(Client, "large-00899") is not None


def test_the_streamed_export_is_the_document_as_json_dumps_writes_it(session: Session) -> None:
    empty: list[str] = []
    write_document(session, empty.append)
    assert "".join(empty) == json.dumps(export_document(session), indent=2)
    assert json.loads("".join(empty))["clients"] == []
    import_document(session, _document(1100))  # more than two pages of clients
    parts: list[str] = []
    write_document(session, parts.append, include_secrets=True)
    assert "".join(parts) == json.dumps(export_document(session, include_secrets=True), indent=2)
