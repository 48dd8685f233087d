"""`oauth2store register`: dynamic client registration (RFC 7591; IRIS RegisterClient).

The credentials the server issues (client_secret, registration_access_token) are stored encrypted, never printed:
`--json` prints the server's answer without them.
"""

from __future__ import annotations

import click

from ._context import Settings, allow_insecure_http, json_option, open_client, pass_settings, session
from ._output import emit_json


@click.command("register")
@click.argument("application_name")
@allow_insecure_http
@json_option("The server's answer (without secrets) as JSON.")
@pass_settings
def register_command(settings: Settings, /, application_name: str, allow_insecure_http: bool, as_json: bool) -> None:
    """Register the client with its server (RFC 7591; IRIS RegisterClient) and store the credentials it issues."""
    with session(settings, write=True) as db:
        answer = open_client(db, application_name).register(allow_insecure_http=allow_insecure_http)
    if as_json:
        emit_json(answer)
    else:
        click.echo(f"registered client {application_name}: client_id {answer.get('client_id')}")
