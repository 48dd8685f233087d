"""`oauth2store keys`: a client's own key pairs (IRIS RotateKeys) and the public JWKS it publishes.

Nothing here prints a private key: rows show kid, use, alg and lifecycle state; `keys show` the public JWKS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from .._errors import Problem, ValidationError
from ..models import Client, ClientKey
from ._context import Settings, integer, json_option, open_client, pass_settings, session
from ._output import emit_json, table


@click.group()
def keys() -> None:
    """A client's own key pairs (IRIS RotateKeys) and the public JWKS it publishes."""


@keys.command("rotate")
@click.argument("application_name")
@click.option(
    "--publication-delay",
    metavar="SECONDS",
    help="How long a new key is published before it signs (default: longer than JWKS caches keep it).",
)
@click.option("--retention", metavar="SECONDS", help="How long a retired key stays published.")
@json_option()
@pass_settings
def keys_rotate(
    settings: Settings, /, application_name: str, publication_delay: str | None, retention: str | None, as_json: bool
) -> None:
    """Add a new key pair to the client's JWKS; show every key with its state (the new ones marked *)."""
    timing = _timing(application_name, publication_delay=(publication_delay, 0), retention=(retention, 1))
    with session(settings, write=True) as db:
        found = open_client(db, application_name)
        now = datetime.now(UTC)
        created = found.RotateKeys(now, **timing)
        rows = _key_rows(found, now, created)
        credentials = found.client_credentials
    if as_json:
        emit_json(rows)
    elif credentials:
        signer = f"client {application_name} signs with the key of its X.509 credentials {credentials!r}"
        click.echo(f"{signer}: nothing to rotate")
    else:
        columns = ("kid", "use", "alg", "state", "active_from")
        lines = [(*(row[c] for c in columns), "*" if row["new"] else "") for row in rows]
        table(["KID", "USE", "ALG", "STATE", "ACTIVE FROM", "NEW"], lines)


def _timing(application_name: str, **options: tuple[str | None, int]) -> dict[str, timedelta]:
    """The durations given, in seconds, each at least its minimum (RotateKeys checks how they relate)."""

    def invalid(name: str) -> Callable[[str], ValidationError]:
        return lambda message: ValidationError("Client", application_name, [Problem(name, message)])

    return {
        name: timedelta(seconds=integer(text, invalid(name), minimum=minimum))
        for name, (text, minimum) in options.items()
        if text is not None
    }


def _key_rows(found: Client, now: datetime, created: Sequence[ClientKey]) -> list[dict[str, Any]]:
    return [
        {
            "kid": key.kid,
            "use": key.use,
            "alg": key.alg,
            "state": str(key.state(found.keys, now)),
            "active_from": key.active_from.isoformat(timespec="seconds"),
            "new": key in created,
        }
        for key in found.keys
    ]


@keys.command("show")
@click.argument("application_name")
@pass_settings
def keys_show(settings: Settings, /, application_name: str) -> None:
    """Print the client's public JWKS (what its jwks_uri serves), as JSON."""
    with session(settings) as db:
        jwks = open_client(db, application_name).published_jwks
    emit_json(jwks)
