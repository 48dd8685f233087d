"""The `oauth2store` command: inspect and change a store from the shell, as IRIS's management portal does.

click (small, typed) gives subcommand groups, `--help` from docstrings, environment-variable defaults and an
in-process test runner; argparse would need all of that written by hand.

One module per command group: `db`, `server`, `client`, `keys`, `tokens` (token, introspect, revoke), `jwks`,
`registration` (register), `transfer` (export, import) and `login` (login, logout); `_context` (settings,
sessions, parsing input), `_output` (tables, JSON, masks) and `_failures` (how a command ends) are what they
share. The CLI is the top layer: it may import anything in oauth2store, and nothing there imports it.

Every error is one line on stderr (`--debug` shows the traceback) and an exit code from README's table: an
oauth2store error's own `exit_code` (3 invalid input, 4 not found, 5 conflict, 6 schema, 7 server, 8 keys), 2 for
usage (click), 9 for a database that cannot be used, 1 for anything else.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from .._store import URL_VARIABLE
from ._context import Settings, refuse_text_that_is_not_utf8
from ._failures import report

__all__ = ["cli", "main"]

#: Each command: (its module, the click command in it).
COMMANDS = {
    "db": ("db", "db"),
    "server": ("server", "server"),
    "client": ("client", "client"),
    "keys": ("keys", "keys"),
    "token": ("tokens", "token_command"),
    "introspect": ("tokens", "introspect_command"),
    "revoke": ("tokens", "revoke_command"),
    "jwks": ("jwks", "jwks"),
    "register": ("registration", "register_command"),
    "export": ("transfer", "export_command"),
    "import": ("transfer", "import_command"),
    "login": ("login", "login_command"),
    "logout": ("login", "logout_command"),
}


class _LazyGroup(click.Group):
    """The root group, importing a command's module only when that command runs (or `--help` lists them all)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        # Imported here for start-up cost: `oauth2store token` in a cron job loads no other command's code.
        module = importlib.import_module(f"{__name__}.{entry[0]}")
        command: click.Command = getattr(module, entry[1])
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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
