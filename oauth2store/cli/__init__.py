"""The `oauth2store` command: inspect and change a store from the shell, as IRIS's management portal does.

click (small, typed) gives subcommand groups, `--help` from docstrings, environment-variable defaults and an
in-process test runner; argparse would need all of that written by hand.

One module per command group: `db`, `server`, `client`, `keys`, `tokens` (token, introspect, revoke), `jwks`,
`registration` (register) and `transfer` (export, import); `_context` (settings, sessions, parsing input),
`_output` (tables, JSON, masks) and `_failures` (how a command ends) are what they share. The CLI is the top
layer: it may import anything in oauth2store, and nothing there imports it.

Every error is one line on stderr (`--debug` shows the traceback) and an exit code from README's table: an
oauth2store error's own `exit_code` (3 invalid input, 4 not found, 5 conflict, 6 schema, 7 server, 8 keys), 2 for
usage (click), 9 for a database that cannot be used, 1 for anything else.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from .._store import URL_VARIABLE
from . import client, db, jwks, keys, login, registration, server, tokens, transfer
from ._context import Settings, refuse_text_that_is_not_utf8
from ._failures import report

__all__ = ["cli", "main"]


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
    context.obj = settings = Settings(url=url, debug=debug)
    context.call_on_close(settings.close)


for command in (
    db.db,
    server.server,
    client.client,
    keys.keys,
    tokens.token_command,
    tokens.introspect_command,
    tokens.revoke_command,
    jwks.jwks,
    registration.register_command,
    transfer.export_command,
    transfer.import_command,
    login.login_command,
    login.logout_command,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        refuse_text_that_is_not_utf8(args)
        cli.main(args=args, prog_name="oauth2store", standalone_mode=False)
    except Exception as error:
        if "--debug" in args and not isinstance(error, click.ClickException | click.exceptions.Exit | click.Abort):
            raise
        return report(error)
    return 0
