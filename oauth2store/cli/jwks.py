"""`oauth2store jwks`: the authorization server's public JWKS, cached on its definition (IRIS RefreshJWKS)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ._context import Settings, allow_insecure_http, json_option, open_client, pass_settings, session
from ._output import emit_json, table


@click.group()
def jwks() -> None:
    """The authorization server's public JWKS, cached on its definition (IRIS RefreshJWKS)."""


@jwks.command("refresh")
@click.argument("application_name")
@click.option("--force", is_flag=True, help="Fetch even if the cached JWKS has not expired.")
@allow_insecure_http
@json_option()
@pass_settings
def jwks_refresh(
    settings: Settings, /, application_name: str, force: bool, allow_insecure_http: bool, as_json: bool
) -> None:
    """Fetch the server's JWKS for the client if it expired (or --force); show its keys and whether they changed."""
    with session(settings, write=True) as db:
        found = open_client(db, application_name)
        changed = found.RefreshJWKS(force, True, allow_insecure_http=allow_insecure_http)
        server = found.server_definition
        keys = (server.public_jwks or {}).get("keys", [])
        listed = [{"kid": key.get("kid"), "kty": key.get("kty"), "alg": key.get("alg")} for key in keys]
        expires = server.public_jwks_expires
    if as_json:
        emit_json({"changed": changed, "expires": expires, "keys": listed})
        return
    click.echo(f"JWKS {'changed' if changed else 'unchanged'}; cached until {_expiry_text(expires)}")
    table(["KID", "KTY", "ALG"], [(key["kid"], key["kty"], key["alg"]) for key in listed])


def _expiry_text(expires: int | None) -> str:
    """IRIS's expiry convention in words: -1 never, 0 not cacheable, else an epoch time."""
    if expires is None or expires == 0:
        return "the next use (not cacheable)"
    if expires == -1:
        return "further notice (never expires)"
    return datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
