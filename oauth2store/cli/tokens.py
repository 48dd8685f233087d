"""`oauth2store token`, `introspect` and `revoke`: access tokens as the client (client credentials grant,
RFC 7662, RFC 7009), or, with `token --session`, a person's token that `oauth2store login` stored. `token` prints
the token it got: that is its job; nothing else here prints a token."""

from __future__ import annotations

import click

from .._agent import AgentClient
from .._errors import Problem, ValidationError
from ._context import Settings, allow_insecure_http, json_option, pass_settings, read_stdin_line
from ._output import emit_json


def _token_argument(token: str) -> str:
    """TOKEN, or `-` to read it from standard input (keeps it out of argv and shell history)."""
    if token == "-":  # noqa: S105 (`-` is not a password)
        token = read_stdin_line(lambda message: ValidationError("TOKEN", None, [Problem("TOKEN", message)])).strip()
    if not token:
        raise click.BadParameter("is empty", param_hint="TOKEN")
    return token


@click.command("token")
@click.argument("application_name")
@click.option("--scope", "scopes", multiple=True, help="Scope to ask for (repeatable); default: the client's.")
@click.option("--resource", "resources", multiple=True, metavar="URI", help="RFC 8707 resource (repeatable).")
@click.option(
    "--session",
    "session_id",
    metavar="NAME",
    help="A person's token instead: the session `oauth2store login` signed in (refreshed when due).",
)
@allow_insecure_http
@json_option("The token with its type, expiry and scope, as JSON.")
@pass_settings
def token_command(
    settings: Settings,
    /,
    application_name: str,
    scopes: tuple[str, ...],
    resources: tuple[str, ...],
    session_id: str | None,
    allow_insecure_http: bool,
    as_json: bool,
) -> None:
    """Print an access token for the client (client credentials grant; reused from the store while valid), or
    with --session the signed-in person's (refreshed when due)."""
    if session_id is not None:
        if resources:
            raise click.UsageError("--resource is for client credentials tokens, not with --session")
        from .login import session_token  # imported here: `token` without --session loads no sign-in code

        user_token = session_token(settings, application_name, session_id, scopes, allow_insecure_http)
        if as_json:
            emit_json(user_token)
        else:
            click.echo(user_token["access_token"])
        return
    agent = AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http)
    got = agent.get_token(" ".join(scopes) if scopes else None, resource=list(resources) or None)
    if not as_json:
        click.echo(got.access_token)
        return
    answer = {"access_token": got.access_token, "token_type": got.token_type}
    emit_json({**answer, "expires_at": got.expires_at.isoformat(), "scope": got.scope})


@click.command("introspect")
@click.argument("application_name")
@click.argument("token")
@allow_insecure_http
@pass_settings
def introspect_command(settings: Settings, /, application_name: str, token: str, allow_insecure_http: bool) -> None:
    """Ask the server about TOKEN (RFC 7662) as the client; prints the answer as JSON. TOKEN - reads stdin."""
    value = _token_argument(token)
    agent = AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http)
    emit_json(agent.introspect(value))


@click.command("revoke")
@click.argument("application_name")
@click.argument("token")
@allow_insecure_http
@pass_settings
def revoke_command(settings: Settings, /, application_name: str, token: str, allow_insecure_http: bool) -> None:
    """Revoke TOKEN at the server (RFC 7009) and drop it from the store's cache. TOKEN - reads stdin."""
    value = _token_argument(token)
    AgentClient(settings.store, application_name, allow_insecure_http=allow_insecure_http).revoke(value)
    click.echo("revoked")
