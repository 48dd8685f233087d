"""What every command shares on the way out: tables for people, JSON for scripts, and masks for secrets.

What is secret in a client or server document is what oauth2store._documents leaves out of a document without
secrets (secret properties, and a client's key pairs with their private JWKs): a value only the document with
secrets has is shown as a mask unless `--reveal`, so a secret added to the model later is masked here too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from .._documents import client_document, server_document
from ..models import Client, ServerDefinition

MASK = "********"


def emit_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns as wide as their widest cell, two spaces apart."""
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    for line in [list(headers), *cells]:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def show(document: dict[str, Any], as_json: bool) -> None:
    """One object: `name: value` lines (an inner object indented), or JSON."""
    if as_json:
        emit_json(document)
        return
    for key, value in document.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for inner_key, inner_value in value.items():
                click.echo(f"  {inner_key}: {_text(inner_value)}")
        else:
            click.echo(f"{key}: {_text(value)}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def masked(full: dict[str, Any], public: dict[str, Any]) -> dict[str, Any]:
    """`full` with every value that `public` (the same document without secrets) lacks shown as a mask."""
    shown: dict[str, Any] = {}
    for key, value in full.items():
        other = public.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            shown[key] = masked(value, other)
        else:
            shown[key] = value if key in public and other == value else MASK
    return shown


def client_view(client: Client, *, reveal: bool) -> dict[str, Any]:
    """A client as `client show` prints it: its document, secrets masked unless `reveal`."""
    full = client_document(client, include_secrets=True)
    return full if reveal else masked(full, client_document(client, include_secrets=False))


def server_view(server: ServerDefinition, *, reveal: bool) -> dict[str, Any]:
    """A server definition as `server show` prints it, with its ID first; secrets masked unless `reveal`."""
    full = {"id": server.id, **server_document(server, include_secrets=True)}
    return full if reveal else masked(full, {"id": server.id, **server_document(server, include_secrets=False)})
