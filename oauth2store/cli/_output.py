"""What every command shares on the way out: tables for people, JSON for scripts, and masks for secrets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from .._documents import client_document, server_document
from ..models import Client, ServerDefinition
from ..models.base import Validated

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


def mask(document: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """The document with each secret's value replaced by a mask (the keys show that a value is set)."""
    return {key: (MASK if key in secrets and value is not None else value) for key, value in document.items()}


def secret_names(model: type[Validated]) -> list[str]:
    return [name for name, (_key, rules) in model.property_rules().items() if rules.secret]


def client_view(client: Client, *, reveal: bool) -> dict[str, Any]:
    """A client as `client show` prints it: its document, secrets masked unless `reveal`."""
    document = client_document(client, include_secrets=True)
    if not reveal:
        document = mask(document, secret_names(Client))
        document["metadata"] = mask(document["metadata"], ["registration_access_token"])
    return document


def server_view(server: ServerDefinition, *, reveal: bool) -> dict[str, Any]:
    """A server definition as `server show` prints it, with its ID first; secrets masked unless `reveal`."""
    document = {"id": server.id, **server_document(server, include_secrets=True)}
    return document if reveal else mask(document, secret_names(ServerDefinition))
