"""`oauth2store client`: client definitions (IRIS OAuth2.Client), every property settable from options.

Options take text; the model's rules judge the values (`--type nonsense` is a ValidationError naming client_type,
exit 3, as from the library), so the CLI keeps no second copy of any rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

import click
from sqlalchemy.orm import Session

from .._documents import FORMAT, import_document
from .._errors import DuplicateError, Problem, ValidationError
from .._types import ClientType, TokenEndpointAuthMethod
from ..models import Client, ClientMetadata, Endpoint
from ._context import (
    INTEGER_MAX,
    INTEGER_MIN,
    F,
    Settings,
    integer,
    json_option,
    open_client,
    open_server,
    parse_json,
    pass_settings,
    read_document,
    read_stdin_line,
    session,
)
from ._output import client_view, emit_json, show, table

_TYPES = ", ".join(ClientType)
_METHODS = ", ".join(TokenEndpointAuthMethod)
_OPTIONS = [
    click.option("--type", "client_type", metavar="TYPE", help=f"client_type: {_TYPES}."),
    click.option("--server", "server_ref", metavar="ID|ISSUER", help="The server definition it uses."),
    click.option("--client-id"),
    click.option("--client-secret", help="The secret, or - to read it from standard input."),
    click.option("--client-credentials", metavar="ALIAS", help="Stored X.509 credentials with its key."),
    click.option("--client-password", help="Password of that key, or - for standard input."),
    click.option("--scope", "default_scope", help="Default scope, blank separated."),
    click.option("--description"),
    click.option("--enabled/--disabled", default=None),
    click.option("--jwt-audience", metavar="URL"),
    click.option("--jwt-interval", metavar="SECONDS"),
    click.option("--ssl-configuration", metavar="NAME"),
    click.option("--redirect-url", metavar="URL", help="The redirection endpoint."),
    click.option("--auth-method", metavar="METHOD", help=f"token_endpoint_auth_method: {_METHODS}."),
    click.option("--grant-type", "grant_types", multiple=True, help="A grant type (repeatable)."),
    click.option(
        "--metadata",
        "members",
        multiple=True,
        metavar="NAME=VALUE",
        help="Any client metadata member; VALUE is JSON or text (repeatable).",
    ),
]


def client_options(function: F) -> F:
    """The options of `client create` and `client set`: every property of the client."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


@click.group()
def client() -> None:
    """Client definitions (IRIS OAuth2.Client)."""


@client.command("create")
@click.argument("application_name", required=False)
@client_options
@click.option(
    "--from-json",
    type=click.File("rb"),
    help="Create from a client document (as `client show --json --reveal` prints).",
)
@pass_settings
def client_create(
    settings: Settings, /, application_name: str | None, from_json: BinaryIO | None, **options: Any
) -> None:
    """Create the client APPLICATION_NAME from options, or from a JSON client document."""
    document = read_document(from_json, "client document") if from_json is not None else None
    if document is None and not application_name:
        raise click.UsageError("APPLICATION_NAME is required (or give --from-json)")
    if document is None and (options.get("client_type") is None or options.get("server_ref") is None):
        raise click.UsageError("--type and --server are required to create a client")
    with session(settings) as db:
        name = application_name or (document or {}).get("application_name")
        if isinstance(name, str) and Client.Open(db, name) is not None:
            raise DuplicateError("Client", name, "application_name")
        if document is not None:
            import_document(db, {"format": FORMAT, "clients": [{**document, "application_name": name}]})
        else:
            created = Client(application_name=name)
            _apply_options(db, created, options)
            db.add(created)
            db.flush()
    click.echo(f"created client {name}")


@client.command("set")
@click.argument("application_name")
@client_options
@pass_settings
def client_set(settings: Settings, /, application_name: str, **options: Any) -> None:
    """Change properties of a client; options not given are left as they are."""
    with session(settings) as db:
        _apply_options(db, open_client(db, application_name), options)
        db.flush()
    click.echo(f"updated client {application_name}")


@client.command("show")
@click.argument("application_name")
@json_option()
@click.option("--reveal", is_flag=True, help="Show secrets (and private keys) instead of masking them.")
@pass_settings
def client_show(settings: Settings, /, application_name: str, as_json: bool, reveal: bool) -> None:
    """Show one client with its metadata."""
    with session(settings) as db:
        document = client_view(open_client(db, application_name), reveal=reveal)
    show(document, as_json)


@client.command("list")
@click.option("--server", "server_ref", metavar="ID|ISSUER", help="Only the clients of this server (ListForServer).")
@json_option()
@pass_settings
def client_list(settings: Settings, /, server_ref: str | None, as_json: bool) -> None:
    """List clients: name, type and default scope (IRIS queries List and ListForServer)."""
    with session(settings) as db:
        query = Client.List(db) if server_ref is None else Client.ListForServer(db, open_server(db, server_ref).id)
        rows = [tuple(row) for row in query]
    if as_json:
        emit_json([dict(zip(("application_name", "client_type", "default_scope"), row, strict=True)) for row in rows])
    else:
        table(["APPLICATION", "TYPE", "DEFAULT SCOPE"], rows)


@client.command("validate")
@click.argument("application_name")
@pass_settings
def client_validate(settings: Settings, /, application_name: str) -> None:
    """Check a stored client against every rule (e.g. after its server definition changed)."""
    with session(settings) as db:
        open_client(db, application_name).validate()
    click.echo(f"client {application_name} is valid")


@client.command("delete")
@click.argument("application_name")
@pass_settings
def client_delete(settings: Settings, /, application_name: str) -> None:
    """Delete a client with its metadata and stored tokens (IRIS DeleteId)."""
    with session(settings) as db:
        Client.DeleteId(db, application_name)
    click.echo(f"deleted client {application_name}")


def _apply_options(db: Session, client: Client, options: dict[str, Any]) -> None:
    """Set what the options give on the client and its metadata; the flush then checks every rule."""

    def invalid(field: str) -> Callable[[str], ValidationError]:
        return lambda message: ValidationError("Client", client.application_name, [Problem(field, message)])

    server_ref = options.pop("server_ref", None)
    if server_ref is not None:
        client.server_definition = open_server(db, server_ref)
    redirect = options.pop("redirect_url", None)
    if redirect is not None:
        client.redirection_endpoint = Endpoint.parse(redirect) if redirect else None
    interval = options.pop("jwt_interval", None)
    if interval is not None:
        options["jwt_interval"] = integer(interval, invalid("jwt_interval"))
    for secret in ("client_secret", "client_password"):
        if options.get(secret) == "-":
            options[secret] = read_stdin_line(invalid(secret))
    metadata = client.client_metadata
    method = options.pop("auth_method", None)
    if method is not None:
        metadata.token_endpoint_auth_method = method
    grant_types = options.pop("grant_types", ())
    if grant_types:
        metadata.grant_types = list(grant_types)
    members, problems = _members(options.pop("members", ()))
    if problems:
        raise ValidationError("Client", client.application_name, problems)
    for name, value in members.items():
        setattr(metadata, ClientMetadata.property_rules()[name][0], value)
    for name, value in options.items():
        if value is not None:
            setattr(client, name, value)


def _members(assignments: tuple[str, ...]) -> tuple[dict[str, Any], list[Problem]]:
    """`--metadata NAME=VALUE` assignments: VALUE is JSON (`grant_types=["client_credentials"]`) or plain text."""
    members: dict[str, Any] = {}
    problems: list[Problem] = []
    for assignment in assignments:
        name, equals, raw = assignment.partition("=")
        if not equals or not name:
            problems.append(Problem("metadata", f"{assignment!r} is not NAME=VALUE"))
        elif name not in ClientMetadata.property_rules():
            problems.append(Problem(f"metadata.{name}", "is not a client metadata member"))
        else:
            try:
                members[name] = parse_json(raw)
            except json.JSONDecodeError:
                members[name] = raw  # not JSON: the text itself
            except ValueError as error:
                problems.append(Problem(f"metadata.{name}", str(error)))
            value = members.get(name)
            if isinstance(value, int) and not INTEGER_MIN <= value <= INTEGER_MAX:
                problems.append(Problem(f"metadata.{name}", f"must be from {INTEGER_MIN} to {INTEGER_MAX} (got {raw})"))
    return members, problems
