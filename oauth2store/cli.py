"""The `oauth2store` command: inspect and change a store from the shell, as IRIS's management portal does.

click (already a dependency of many tools, small, typed) gives subcommand groups, `--help` from docstrings,
environment-variable defaults and an in-process test runner; argparse would need all of that written by hand.

Exit codes (`_EXIT_CODES` maps the exceptions; keep the two in step):

    0  success
    1  any other error
    2  usage: unknown command or option, missing argument
    3  invalid input: ValidationError, InsecureEndpointError, ClientNotUsableError (the stored definition cannot
       do what was asked: disabled, awaiting registration)
    4  not found: NotFoundError
    5  conflict: DuplicateError, InUseError
    6  schema not at this version's revision: SchemaVersionError (run `oauth2store db upgrade`)
    7  the authorization server or the network failed: TransportError, ProtocolError (and DiscoveryError),
       OAuthServerError (and RegistrationError), JWKSError (the server's JWKS is unusable); retrying later, or
       fixing the server, may help, fixing the command will not
    8  keys: SecretKeyError (the store's encryption key is missing or wrong: configure it) and KeyMaterialError
       (a client has no usable key pair: rotate its keys, or fix its signing algorithm)

Every error is one line on stderr (`--debug` shows the traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from sqlalchemy.orm import Session

from . import _encryption as encryption
from ._documents import ImportReport, client_document, export_document, import_document, server_document
from ._errors import (
    ClientNotUsableError,
    DuplicateError,
    InsecureEndpointError,
    InUseError,
    JWKSError,
    KeyMaterialError,
    NotFoundError,
    OAuth2StoreError,
    OAuthServerError,
    Problem,
    ProtocolError,
    SchemaVersionError,
    SecretKeyError,
    TransportError,
    ValidationError,
)
from ._store import URL_VARIABLE, Store
from ._types import ClientType, TokenEndpointAuthMethod
from .models import Client, ClientKey, Endpoint, ServerDefinition

EXIT_ERROR, EXIT_USAGE, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_SCHEMA = 1, 2, 3, 4, 5, 6
EXIT_SERVER, EXIT_KEY = 7, 8
_EXIT_CODES: list[tuple[type[OAuth2StoreError], int]] = [
    (ValidationError, EXIT_INVALID),
    (InsecureEndpointError, EXIT_INVALID),
    (ClientNotUsableError, EXIT_INVALID),
    (NotFoundError, EXIT_NOT_FOUND),
    (DuplicateError, EXIT_CONFLICT),
    (InUseError, EXIT_CONFLICT),
    (SchemaVersionError, EXIT_SCHEMA),
    (TransportError, EXIT_SERVER),
    (ProtocolError, EXIT_SERVER),
    (OAuthServerError, EXIT_SERVER),
    (JWKSError, EXIT_SERVER),
    (SecretKeyError, EXIT_KEY),
    (KeyMaterialError, EXIT_KEY),
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
    """Create and migrate the store's schema; re-encrypt its secrets with a new key."""


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
    from ._migrations import head_revision

    current = settings.store.current_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head_revision()}")


def _holds_another_key(store: Store, key: str) -> bool:
    """True only when the database is known not to use `key` (a failed rekey whose commit may have happened must
    never lose the key the database now needs)."""
    try:
        encryption.check_key(store.engine, encryption.SecretCipher(key))
    except SecretKeyError:
        return True
    except Exception:
        return False  # unreachable: keep the key, the next session settles it
    return False


@db.command("rekey")
@click.option(
    "--new-key-file",
    type=click.File("r"),
    metavar="FILE",
    help="Read the new key from FILE (- for standard input). Never give a key as an argument: argv is visible "
    "to every user of the machine and lands in shell history.",
)
@click.option("--generate", is_flag=True, help="Generate a new key (see oauth2store.generate_key).")
@click.option(
    "--save-key",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --generate: write the new key to FILE (created with mode 0600; it must not exist). Required when "
    "the store's key is not in a key file beside a SQLite database.",
)
@pass_settings
def db_rekey(settings: Settings, /, new_key_file: TextIO | None, generate: bool, save_key: Path | None) -> None:
    """Re-encrypt every stored secret with a new key, in one transaction (Store.rekey).

    With a key file beside a SQLite database, the new key replaces it there. With $OAUTH2STORE_KEY, put the new
    key there afterwards and restart every process that uses the database.
    """
    if (new_key_file is None) == (not generate):
        raise click.UsageError("give exactly one of --new-key-file FILE and --generate")
    if save_key is not None and not generate:
        raise click.UsageError("--save-key goes with --generate (the key in --new-key-file is already saved)")
    store = settings.store
    if generate:
        if save_key is None and store.key_file is None:
            raise click.UsageError(
                f"this store's key does not come from a key file: add --save-key FILE so the new key is kept "
                f"somewhere (then set ${encryption.KEY_VARIABLE} from it)"
            )
        new_key = encryption.generate_key()
        if save_key is not None:
            try:
                encryption.write_key_file(save_key, new_key)
            except FileExistsError:
                raise click.BadParameter(
                    f"{save_key} exists; it is never overwritten", param_hint="--save-key"
                ) from None
    else:
        assert new_key_file is not None
        new_key = new_key_file.read().strip()
        if not new_key:
            raise SecretKeyError("the new key file is empty")
    try:
        store.rekey(new_key)
    except BaseException:
        if save_key is not None and _holds_another_key(store, new_key):
            save_key.unlink(missing_ok=True)  # the database kept the old key: the new one is worthless
        raise
    where = [str(p) for p in (store.key_file, save_key) if p is not None]
    click.echo("re-encrypted every stored secret with the new key" + (f", now in {' and '.join(where)}" if where
               else ""))  # fmt: skip
    if store.key_file is None:
        click.echo(f"set ${encryption.KEY_VARIABLE} to the new key and restart every process that uses this database")


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


@server.command("discover")
@click.argument("issuer")
@click.option("--ssl-configuration", metavar="NAME", help='TLS configuration for the fetch (default: "default").')
@click.option("--allow-insecure-http", is_flag=True, help="Allow plain http to a non-loopback host (development).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@pass_settings
def server_discover(settings: Settings, /, issuer: str, ssl_configuration: str | None, allow_insecure_http: bool,
                    as_json: bool) -> None:  # fmt: skip
    """Fetch ISSUER's discovery metadata and store it, creating the definition if needed (IRIS Discover)."""
    with _session(settings) as db:
        found = ServerDefinition.discover(
            db, issuer, ssl_configuration=ssl_configuration, allow_insecure_http=allow_insecure_http
        )
        document = {"id": found.id, **server_document(found)}
    if as_json:
        _emit_json(document)
    else:
        click.echo(f"discovered {issuer}: server definition {document['id']}, token endpoint "
                   f"{document['metadata'].get('token_endpoint')}")  # fmt: skip


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


# --- keys -----------------------------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """A client's own key pairs (IRIS RotateKeys) and the public JWKS it publishes."""


def _key_rows(found: Client, now: datetime, created: Sequence[ClientKey]) -> list[dict[str, Any]]:
    return [
        {
            "kid": k.kid,
            "use": k.use,
            "alg": k.alg,
            "state": str(k.state(found.keys, now)),
            "active_from": k.active_from.isoformat(timespec="seconds"),
            "new": k in created,
        }
        for k in found.keys
    ]


@keys.command("rotate")
@click.argument("application_name")
@click.option(
    "--publication-delay",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="How long a new key is published before it signs (default: longer than JWKS caches keep it).",
)
@click.option("--retention", type=click.IntRange(min=1), metavar="SECONDS",
              help="How long a retired key stays published.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@pass_settings
def keys_rotate(settings: Settings, /, application_name: str, publication_delay: int | None, retention: int | None,
                as_json: bool) -> None:  # fmt: skip
    """Add a new key pair to the client's JWKS; show every key with its state (the new ones marked *)."""
    timing = {name: timedelta(seconds=value) for name, value in
              (("publication_delay", publication_delay), ("retention", retention)) if value is not None}  # fmt: skip
    with settings.store.session(write=True) as db:
        found = _open_client(db, application_name)
        now = datetime.now(UTC)
        created = found.RotateKeys(now, **timing)
        rows = _key_rows(found, now, created)
        credentials = found.client_credentials
    if as_json:
        _emit_json(rows)
        return
    if credentials:
        click.echo(f"client {application_name} signs with the key of its X.509 credentials {credentials!r}: "
                   "nothing to rotate")  # fmt: skip
        return
    table = [(r["kid"], r["use"], r["alg"], r["state"], r["active_from"], "*" if r["new"] else "") for r in rows]
    _table(["KID", "USE", "ALG", "STATE", "ACTIVE FROM", "NEW"], table)


@keys.command("show")
@click.argument("application_name")
@pass_settings
def keys_show(settings: Settings, /, application_name: str) -> None:
    """Print the client's public JWKS (what its jwks_uri serves), as JSON."""
    with _session(settings) as db:
        jwks = _open_client(db, application_name).published_jwks
    _emit_json(jwks)


# --- tokens ---------------------------------------------------------------------------------------------------

_INSECURE_HTTP = click.option(
    "--allow-insecure-http", is_flag=True, help="Allow plain http to a non-loopback server (development only)."
)


def _token_argument(token: str) -> str:
    """TOKEN, or `-` to read it from standard input (keeps it out of argv and shell history)."""
    value = sys.stdin.readline().strip() if token == "-" else token  # noqa: S105 (`-` is not a password)
    if not value:
        raise click.BadParameter("is empty", param_hint="TOKEN")
    return value


@cli.command("token")
@click.argument("application_name")
@click.option("--scope", "scopes", multiple=True, help="Scope to ask for (repeatable); default: the client's.")
@click.option("--resource", "resources", multiple=True, metavar="URI", help="RFC 8707 resource (repeatable).")
@_INSECURE_HTTP
@click.option("--json", "as_json", is_flag=True, help="The token with its type, expiry and scope, as JSON.")
@pass_settings
def token_command(settings: Settings, /, application_name: str, scopes: tuple[str, ...], resources: tuple[str, ...],
                  allow_insecure_http: bool, as_json: bool) -> None:  # fmt: skip
    """Print an access token for the client (client credentials grant; reused from the store while valid)."""
    from ._agent import AgentClient

    agent = AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http)
    got = agent.get_token(" ".join(scopes) if scopes else None, resource=list(resources) or None)
    if as_json:
        _emit_json({"access_token": got.access_token, "token_type": got.token_type,
                    "expires_at": got.expires_at.isoformat(), "scope": got.scope})  # fmt: skip
    else:
        click.echo(got.access_token)


@cli.command("introspect")
@click.argument("application_name")
@click.argument("token")
@_INSECURE_HTTP
@pass_settings
def introspect_command(settings: Settings, /, application_name: str, token: str, allow_insecure_http: bool) -> None:
    """Ask the server about TOKEN (RFC 7662) as the client; prints the answer as JSON. TOKEN - reads stdin."""
    from ._agent import AgentClient

    value = _token_argument(token)
    _emit_json(AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http)
               .introspect(value))  # fmt: skip


@cli.command("revoke")
@click.argument("application_name")
@click.argument("token")
@_INSECURE_HTTP
@pass_settings
def revoke_command(settings: Settings, /, application_name: str, token: str, allow_insecure_http: bool) -> None:
    """Revoke TOKEN at the server (RFC 7009) and drop it from the store's cache. TOKEN - reads stdin."""
    from ._agent import AgentClient

    value = _token_argument(token)
    AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http).revoke(value)
    click.echo("revoked")


@cli.group()
def jwks() -> None:
    """The authorization server's public JWKS, cached on its definition (IRIS RefreshJWKS)."""


@jwks.command("refresh")
@click.argument("application_name")
@click.option("--force", is_flag=True, help="Fetch even if the cached JWKS has not expired.")
@_INSECURE_HTTP
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@pass_settings
def jwks_refresh(settings: Settings, /, application_name: str, force: bool, allow_insecure_http: bool,
                 as_json: bool) -> None:  # fmt: skip
    """Fetch the server's JWKS for the client if it expired (or --force); show its keys and whether they changed."""
    with settings.store.session(write=True) as db:
        found = _open_client(db, application_name)
        changed = found.RefreshJWKS(force, True, allow_insecure_http=allow_insecure_http)
        server = found.server_definition
        listed = [{"kid": k.get("kid"), "kty": k.get("kty"), "alg": k.get("alg")}
                 for k in (server.public_jwks or {}).get("keys", [])]  # fmt: skip
        expires = server.public_jwks_expires
    if as_json:
        _emit_json({"changed": changed, "expires": expires, "keys": listed})
        return
    click.echo(f"JWKS {'changed' if changed else 'unchanged'}; cached until {_expiry_text(expires)}")
    _table(["KID", "KTY", "ALG"], [(k["kid"], k["kty"], k["alg"]) for k in listed])


def _expiry_text(expires: int | None) -> str:
    """IRIS's expiry convention in words: -1 never, 0 not cacheable, else an epoch time."""
    if expires is None or expires == 0:
        return "the next use (not cacheable)"
    if expires == -1:
        return "further notice (never expires)"
    return datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")


@cli.command("register")
@click.argument("application_name")
@_INSECURE_HTTP
@click.option("--json", "as_json", is_flag=True, help="The server's answer (without secrets) as JSON.")
@pass_settings
def register_command(settings: Settings, /, application_name: str, allow_insecure_http: bool, as_json: bool) -> None:
    """Register the client with its server (RFC 7591; IRIS RegisterClient) and store the credentials it issues."""
    with settings.store.session(write=True) as db:
        answer = _open_client(db, application_name).register(allow_insecure_http=allow_insecure_http)
    if as_json:
        _emit_json(answer)
    else:
        click.echo(f"registered client {application_name}: client_id {answer.get('client_id')}")


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
