"""The `oauth2store` command: inspect and change a store from the shell, as IRIS's management portal does.

click (already a dependency of many tools, small, typed) gives subcommand groups, `--help` from docstrings,
environment-variable defaults and an in-process test runner; argparse would need all of that written by hand.

Exit codes: 0 success, 1 any other error, 2 usage, 3 invalid input, 4 not found, 5 conflict (duplicate or in
use), 6 schema not at this version's revision. Every error is one line on stderr (`--debug` shows the traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

import click
from sqlalchemy.orm import Session

from .documents import ImportReport, client_document, export_document, import_document, server_document
from .errors import (
    DuplicateError,
    InUseError,
    NotFoundError,
    OAuth2StoreError,
    Problem,
    SchemaVersionError,
    ValidationError,
)
from .models import Client, Endpoint, ServerDefinition
from .store import URL_VARIABLE, Store
from .types import ClientType, TokenEndpointAuthMethod

EXIT_ERROR, EXIT_USAGE, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_SCHEMA = 1, 2, 3, 4, 5, 6
_EXIT_CODES: list[tuple[type[OAuth2StoreError], int]] = [
    (ValidationError, EXIT_INVALID),
    (NotFoundError, EXIT_NOT_FOUND),
    (DuplicateError, EXIT_CONFLICT),
    (InUseError, EXIT_CONFLICT),
    (SchemaVersionError, EXIT_SCHEMA),
]
MASK = "********"
F = TypeVar("F", bound=Callable[..., Any])
#: Imports with more objects than this show a progress bar on a terminal.
PROGRESS_THRESHOLD = 200


@dataclass
class Settings:
    """What the group options decide, shared by every subcommand."""

    url: str | None
    debug: bool
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.url)
        return self._store


pass_settings = click.make_pass_decorator(Settings)


@contextmanager
def _session(settings: Settings, /) -> Iterator[Session]:
    with settings.store.session() as db:
        yield db


def _emit_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _mask(document: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """The document with each secret's value replaced by a mask (the keys show that a value is set)."""
    return {key: (MASK if key in secrets and value is not None else value) for key, value in document.items()}


def _secret_names(model: type[Client] | type[ServerDefinition] | Any) -> list[str]:
    return [name for name, (_key, rules) in model.property_rules().items() if rules.secret]


def _show(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit_json(document)
        return
    for key, value in document.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for inner_key, inner_value in value.items():
                click.echo(
                    f"  {inner_key}: {json.dumps(inner_value) if not isinstance(inner_value, str) else inner_value}"
                )
        else:
            click.echo(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")


def _secret_value(value: str | None) -> str | None:
    """A secret option's value; `-` reads it from standard input, so it stays out of shell history."""
    if value == "-":
        return sys.stdin.readline().rstrip("\n")
    return value


def _parse_member(assignment: str) -> tuple[str, Any]:
    """`name=value` with a JSON value (`grant_types=["client_credentials"]`) or a plain string."""
    name, sep, raw = assignment.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{assignment!r} is not NAME=VALUE", param_hint="--metadata")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _open_server(db: Session, reference: str) -> ServerDefinition:
    """A server definition by integer ID or exact issuer."""
    server = ServerDefinition.Open(db, int(reference)) if reference.isdigit() else None
    server = server or ServerDefinition.OpenByIssuer(db, reference)
    if server is None:
        raise NotFoundError("ServerDefinition", reference)
    return server


def _open_client(db: Session, application_name: str) -> Client:
    client = Client.Open(db, application_name)
    if client is None:
        raise NotFoundError("Client", application_name)
    return client


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--db",
    "url",
    envvar=URL_VARIABLE,
    metavar="URL",
    help=f"Database URL (default: ${URL_VARIABLE}, else ~/.local/share/oauth2store/oauth2store.db).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="oauth2store")
@click.pass_context
def cli(context: click.Context, url: str | None, debug: bool) -> None:
    """Manage a store of OAuth 2.0 / OpenID Connect client definitions."""
    context.obj = Settings(url=url, debug=debug)
    context.call_on_close(lambda: context.obj._store.close() if context.obj._store else None)


# --- db -------------------------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Create and migrate the store's schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_settings
def db_upgrade(settings: Settings, /, revision: str) -> None:
    """Create or migrate the schema up to REVISION (default: the newest)."""
    settings.store.upgrade(revision)
    click.echo(f"schema at revision {settings.store.current_revision()}")


@db.command("downgrade")
@click.argument("revision")
@pass_settings
def db_downgrade(settings: Settings, /, revision: str) -> None:
    """Migrate the schema down to REVISION ("base" drops every oauth2store table)."""
    settings.store.downgrade(revision)
    click.echo(f"schema at revision {settings.store.current_revision() or 'base'}")


@db.command("current")
@pass_settings
def db_current(settings: Settings, /) -> None:
    """Show the schema revision of the database and the one this version needs."""
    from .migrations import head_revision

    current = settings.store.current_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head_revision()}")


# --- server ---------------------------------------------------------------------------------------------------


@cli.group()
def server() -> None:
    """Authorization server definitions (IRIS OAuth2.ServerDefinition)."""


@server.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@pass_settings
def server_list(settings: Settings, /, as_json: bool) -> None:
    """List server definitions with their number of clients (IRIS query List)."""
    with _session(settings) as db:
        rows = [tuple(row) for row in ServerDefinition.List(db)]
    if as_json:
        _emit_json([{"id": r[0], "issuer_endpoint": r[1], "client_count": r[2]} for r in rows])
    else:
        _table(["ID", "ISSUER", "CLIENTS"], rows)


@server.command("show")
@click.argument("server_ref", metavar="ID|ISSUER")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--reveal", is_flag=True, help="Show secrets instead of masking them.")
@pass_settings
def server_show(settings: Settings, /, server_ref: str, as_json: bool, reveal: bool) -> None:
    """Show one server definition."""
    with _session(settings) as db:
        found = _open_server(db, server_ref)
        document = {"id": found.id, **server_document(found, include_secrets=True)}
    _show(document if reveal else _mask(document, _secret_names(ServerDefinition)), as_json)


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
def server_create(settings: Settings, /, issuer: str, ssl_configuration: str, grant_types: tuple[str, ...],
                  **endpoints: str | None) -> None:  # fmt: skip
    """Define a server by hand (its metadata issuer is ISSUER)."""
    with _session(settings) as db:
        created = ServerDefinition(issuer_endpoint=issuer, ssl_configuration=ssl_configuration)
        created.server_metadata.issuer = issuer
        for name, value in endpoints.items():
            setattr(created.server_metadata, name, value)
        created.server_metadata.grant_types_supported = list(grant_types) or None
        db.add(created)
        db.flush()
        click.echo(f"created server definition {created.id} for {issuer}")


@server.command("delete")
@click.argument("server_ref", metavar="ID|ISSUER")
@pass_settings
def server_delete(settings: Settings, /, server_ref: str) -> None:
    """Delete a server definition; refused while clients use it (IRIS DeleteId)."""
    with _session(settings) as db:
        found = _open_server(db, server_ref)
        ServerDefinition.DeleteId(db, found.id)
        click.echo(f"deleted server definition {found.id} ({found.issuer_endpoint})")


# --- client ---------------------------------------------------------------------------------------------------


def client_options(creating: bool) -> Callable[[F], F]:
    """The options of `client create` and `client set`: every property of the client."""
    types = click.Choice([t.value for t in ClientType])
    methods = click.Choice([m.value for m in TokenEndpointAuthMethod])
    options = [
        click.option("--type", "client_type", type=types, required=False, help="public, confidential or resource."),
        click.option("--server", "server_ref", metavar="ID|ISSUER", help="The server definition it uses."),
        click.option("--client-id"),
        click.option("--client-secret", help="The secret, or - to read it from standard input."),
        click.option("--client-credentials", metavar="ALIAS", help="Stored X.509 credentials with its key."),
        click.option("--client-password", help="Password of that key, or - for standard input."),
        click.option("--scope", "default_scope", help="Default scope, blank separated."),
        click.option("--description"),
        click.option("--enabled/--disabled", default=None),
        click.option("--jwt-audience", metavar="URL"),
        click.option("--jwt-interval", type=int, metavar="SECONDS"),
        click.option("--ssl-configuration", metavar="NAME"),
        click.option("--redirect-url", metavar="URL", help="The redirection endpoint."),
        click.option("--auth-method", type=methods, help="token_endpoint_auth_method."),
        click.option("--grant-type", "grant_types", multiple=True, help="A grant type (repeatable)."),
        click.option(
            "--metadata",
            "members",
            multiple=True,
            metavar="NAME=VALUE",
            help="Any client metadata member; VALUE is JSON or text (repeatable).",
        ),
    ]
    if creating:
        options.append(
            click.option(
                "--from-json",
                "from_json",
                type=click.File("r"),
                help="Create from a client document (as `client show --json --reveal` prints).",
            )
        )

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _apply_client_options(db: Session, client: Client, options: dict[str, Any]) -> None:
    server_ref = options.pop("server_ref", None)
    if server_ref is not None:
        client.server_definition = _open_server(db, server_ref)
    redirect = options.pop("redirect_url", None)
    if redirect is not None:
        client.redirection_endpoint = Endpoint.parse(redirect) if redirect else None
    metadata = client.client_metadata
    method = options.pop("auth_method", None)
    if method is not None:
        metadata.token_endpoint_auth_method = method
    grant_types = options.pop("grant_types", ())
    if grant_types:
        metadata.grant_types = list(grant_types)
    problems: list[Problem] = []
    for name, value in (_parse_member(m) for m in options.pop("members", ())):
        if name not in metadata.property_rules():
            problems.append(Problem(f"metadata.{name}", "is not a client metadata member"))
        else:
            setattr(metadata, metadata.property_rules()[name][0], value)
    if problems:
        raise ValidationError("Client", client.application_name, problems)
    for secret in ("client_secret", "client_password"):
        options[secret] = _secret_value(options.get(secret))
    for name, value in options.items():
        if value is not None:
            setattr(client, name, value)


@cli.group()
def client() -> None:
    """Client definitions (IRIS OAuth2.Client)."""


@client.command("create")
@click.argument("application_name", required=False)
@client_options(creating=True)
@pass_settings
def client_create(
    settings: Settings, /, application_name: str | None, from_json: TextIO | None, **options: Any
) -> None:
    """Create the client APPLICATION_NAME from options, or from a JSON client document."""
    with _session(settings) as db:
        if from_json is not None:
            document = json.load(from_json)
            if application_name:
                document["application_name"] = application_name
            import_document(db, {"format": "oauth2store/1", "clients": [document]})
            click.echo(f"created client {document.get('application_name')}")
            return
        if not application_name:
            raise click.UsageError("APPLICATION_NAME is required (or give --from-json)")
        if options.get("client_type") is None or options.get("server_ref") is None:
            raise click.UsageError("--type and --server are required to create a client")
        if Client.Open(db, application_name) is not None:
            raise DuplicateError("Client", application_name, "application_name")
        created = Client(application_name=application_name)
        _apply_client_options(db, created, options)
        db.add(created)
        db.flush()
        click.echo(f"created client {application_name}")


@client.command("set")
@click.argument("application_name")
@client_options(creating=False)
@pass_settings
def client_set(settings: Settings, /, application_name: str, **options: Any) -> None:
    """Change properties of a client; options not given are left as they are."""
    with _session(settings) as db:
        found = _open_client(db, application_name)
        _apply_client_options(db, found, options)
        db.flush()
        click.echo(f"updated client {application_name}")


@client.command("show")
@click.argument("application_name")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--reveal", is_flag=True, help="Show secrets instead of masking them.")
@pass_settings
def client_show(settings: Settings, /, application_name: str, as_json: bool, reveal: bool) -> None:
    """Show one client with its metadata."""
    with _session(settings) as db:
        document = client_document(_open_client(db, application_name), include_secrets=True)
    if not reveal:
        document = _mask(document, _secret_names(Client))
        document["metadata"] = _mask(document["metadata"], ["registration_access_token"])
    _show(document, as_json)


@client.command("list")
@click.option("--server", "server_ref", metavar="ID|ISSUER", help="Only the clients of this server (ListForServer).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@pass_settings
def client_list(settings: Settings, /, server_ref: str | None, as_json: bool) -> None:
    """List clients: name, type and default scope (IRIS queries List and ListForServer)."""
    with _session(settings) as db:
        query = Client.List(db) if server_ref is None else Client.ListForServer(db, _open_server(db, server_ref).id)
        rows = [tuple(row) for row in query]
    if as_json:
        _emit_json([{"application_name": r[0], "client_type": r[1], "default_scope": r[2]} for r in rows])
    else:
        _table(["APPLICATION", "TYPE", "DEFAULT SCOPE"], rows)


@client.command("validate")
@click.argument("application_name")
@pass_settings
def client_validate(settings: Settings, /, application_name: str) -> None:
    """Check a stored client against every rule (e.g. after its server definition changed)."""
    with _session(settings) as db:
        _open_client(db, application_name).validate()
    click.echo(f"client {application_name} is valid")


@client.command("delete")
@click.argument("application_name")
@pass_settings
def client_delete(settings: Settings, /, application_name: str) -> None:
    """Delete a client with its metadata and stored tokens (IRIS DeleteId)."""
    with _session(settings) as db:
        Client.DeleteId(db, application_name)
    click.echo(f"deleted client {application_name}")


# --- export / import ------------------------------------------------------------------------------------------


@cli.command("export")
@click.option("--include-secrets", is_flag=True, help="Write secrets too (keep the file safe).")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default: stdout).")
@pass_settings
def export_command(settings: Settings, /, include_secrets: bool, output: TextIO) -> None:
    """Write the whole store as a JSON document, for `import` into another database."""
    with _session(settings) as db:
        document = export_document(db, include_secrets=include_secrets)
    json.dump(document, output, indent=2)
    output.write("\n")


class _DryRunDoneError(Exception):
    """Rolls the import's transaction back after it was checked."""


@cli.command("import")
@click.argument("document_file", type=click.File("r"), metavar="FILE")
@click.option("--dry-run", is_flag=True, help="Check and report what would change, write nothing.")
@pass_settings
def import_command(settings: Settings, /, document_file: TextIO, dry_run: bool) -> None:
    """Create or update everything a JSON document describes, all or nothing, in one transaction."""
    try:
        document = json.load(document_file)
    except json.JSONDecodeError as error:
        raise ValidationError(
            "document", None, [Problem("json", f"is not valid JSON ({error.msg}, line {error.lineno})")]
        ) from error
    sections = ("ssl_configurations", "x509_credentials", "servers", "clients")
    total = sum(len(document.get(s) or []) for s in sections) if isinstance(document, dict) else 0
    show_progress = total > PROGRESS_THRESHOLD and sys.stderr.isatty()
    report = ImportReport()
    try:
        with _session(settings) as db, click.progressbar(length=total, label="importing", file=sys.stderr,
                                                         hidden=not show_progress) as bar:  # fmt: skip
            report = import_document(db, document, progress=bar.update)
            if dry_run:
                raise _DryRunDoneError
    except _DryRunDoneError:
        pass
    prefix = "would be " if dry_run else ""
    for kind, labels in (("created", report.created), ("updated", report.updated)):
        for label in labels:
            click.echo(f"{prefix}{kind}: {label}")
    click.echo(("dry run: " if dry_run else "") + report.summary())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="oauth2store", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "oauth2store"
        click.echo(f"error: {error.format_message()} (see '{command} --help')", err=True)
        return error.exit_code
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        return error.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except OAuth2StoreError as error:
        if debug:
            raise
        code = next((code for kind, code in _EXIT_CODES if isinstance(error, kind)), EXIT_ERROR)
        click.echo(f"error: {error}", err=True)
        return code
    return 0
