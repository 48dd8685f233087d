"""`oauth2store server`: authorization server definitions (IRIS OAuth2.ServerDefinition), by hand or by discovery."""

from __future__ import annotations

import click

from .._documents import server_document
from ..models import ServerDefinition
from ._context import Settings, allow_insecure_http, json_option, open_server, pass_settings, session
from ._output import emit_json, server_view, show, table


@click.group()
def server() -> None:
    """Authorization server definitions (IRIS OAuth2.ServerDefinition)."""


@server.command("list")
@json_option()
@pass_settings
def server_list(settings: Settings, /, as_json: bool) -> None:
    """List server definitions with their number of clients (IRIS query List)."""
    with session(settings) as db:
        rows = [tuple(row) for row in ServerDefinition.List(db)]
    if as_json:
        emit_json([{"id": id_, "issuer_endpoint": issuer, "client_count": count} for id_, issuer, count in rows])
    else:
        table(["ID", "ISSUER", "CLIENTS"], rows)


@server.command("show")
@click.argument("server_ref", metavar="ID|ISSUER")
@json_option()
@click.option("--reveal", is_flag=True, help="Show secrets instead of masking them.")
@pass_settings
def server_show(settings: Settings, /, server_ref: str, as_json: bool, reveal: bool) -> None:
    """Show one server definition."""
    with session(settings) as db:
        document = server_view(open_server(db, server_ref), reveal=reveal)
    show(document, as_json)


@server.command("create")
@click.argument("issuer")
@click.option("--token-endpoint", required=True, metavar="URL")
@click.option("--authorization-endpoint", metavar="URL")
@click.option("--jwks-uri", metavar="URL")
@click.option("--registration-endpoint", metavar="URL")
@click.option("--introspection-endpoint", metavar="URL")
@click.option("--revocation-endpoint", metavar="URL")
@click.option("--grant-type", "grant_types", multiple=True, help="A grant the server supports (repeatable).")
@click.option("--ssl-configuration", default="default", show_default=True, metavar="NAME")
@pass_settings
def server_create(
    settings: Settings, /, issuer: str, ssl_configuration: str, grant_types: tuple[str, ...], **endpoints: str | None
) -> None:
    """Define a server by hand (its metadata issuer is ISSUER)."""
    with session(settings) as db:
        created = ServerDefinition(issuer_endpoint=issuer, ssl_configuration=ssl_configuration)
        created.server_metadata.issuer = issuer
        for name, value in endpoints.items():
            setattr(created.server_metadata, name, value)
        created.server_metadata.grant_types_supported = list(grant_types) or None
        db.add(created)
        db.flush()
        click.echo(f"created server definition {created.id} for {issuer}")


@server.command("discover")
@click.argument("issuer")
@click.option("--ssl-configuration", metavar="NAME", help='TLS configuration for the fetch (default: "default").')
@allow_insecure_http
@json_option()
@pass_settings
def server_discover(
    settings: Settings, /, issuer: str, ssl_configuration: str | None, allow_insecure_http: bool, as_json: bool
) -> None:
    """Fetch ISSUER's discovery metadata and store it, creating the definition if needed (IRIS Discover)."""
    with session(settings) as db:
        found = ServerDefinition.discover(
            db, issuer, ssl_configuration=ssl_configuration, allow_insecure_http=allow_insecure_http
        )
        document = {"id": found.id, **server_document(found)}
    if as_json:
        emit_json(document)
    else:
        token_endpoint = document["metadata"].get("token_endpoint")
        click.echo(f"discovered {issuer}: server definition {document['id']}, token endpoint {token_endpoint}")


@server.command("delete")
@click.argument("server_ref", metavar="ID|ISSUER")
@pass_settings
def server_delete(settings: Settings, /, server_ref: str) -> None:
    """Delete a server definition; refused while clients use it (IRIS DeleteId)."""
    with session(settings) as db:
        found = open_server(db, server_ref)
        ServerDefinition.DeleteId(db, found.id)
        click.echo(f"deleted server definition {found.id} ({found.issuer_endpoint})")
