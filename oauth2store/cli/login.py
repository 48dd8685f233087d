"""`oauth2store login` and `logout`: a person signed in from a terminal, as a native app does (RFC 8252), with the
tokens kept in the store under a named session that `oauth2store token APP --session NAME` then reads.

`login` listens on an ephemeral port of the client's loopback redirection endpoint (http://127.0.0.1/callback:
RFC 8252 §7.3 lets the port vary), sends the browser through the authorization code flow with PKCE (`SignIn`,
the port passed as `loopback_port`), and stores the tokens when the browser comes back. A session is a `SignIn`
session id. `logout` revokes the session's tokens at the server and removes them (IRIS `RevokeToken`):
RP-initiated logout ends the server's session in a browser and comes back to a web page, which a terminal has
neither of, so it is left to the browser (`SignIn.logout_url` for web applications). Tokens are printed only by
`token --session`, whose job that is.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import click

from .._authorization import loopback_redirect_uri
from .._errors import ClientNotUsableError, NotFoundError, OAuthServerError, Problem, ValidationError
from .._id_token import unverified_claims
from .._signin import SessionTokens, SignIn
from ._context import F, Settings, allow_insecure_http, integer, json_option, open_client, pass_settings, session
from ._loopback import LoopbackListener
from ._output import emit_json

#: The session `login`, `token --session` and `logout` use when none is named.
DEFAULT_SESSION = "default"
#: How long `login` waits for the browser by default, in seconds.
DEFAULT_TIMEOUT = 300


class NotSignedIn(click.ClickException):
    """The session holds no token for the scope: signing in again (`oauth2store login`) is what to do."""

    exit_code = NotFoundError.exit_code


class RefreshFailed(click.ClickException):
    """The session's token is due and the server could not refresh it for now: trying again later may work."""

    exit_code = OAuthServerError.exit_code


class SignInTimedOut(click.ClickException):
    """No browser came back within the time `login` waits."""


def session_option(verb: str) -> Callable[[F], F]:
    return click.option(
        "--session",
        "session_id",
        default=DEFAULT_SESSION,
        show_default=True,
        metavar="NAME",
        help=f"The session to {verb} (a SignIn session id).",
    )


def _signin(settings: Settings, application_name: str, allow_insecure_http: bool) -> SignIn:
    return SignIn(settings.store, application_name, allow_insecure_http=allow_insecure_http)


def _loopback(settings: Settings, application_name: str) -> tuple[str, str]:
    """The address and path to listen on: the client's redirection endpoint, which must be a loopback one."""
    with session(settings) as db:
        endpoint = open_client(db, application_name).redirection_endpoint
    registered = endpoint.url if endpoint is not None else None
    if loopback_redirect_uri(registered, 1) is None or registered is None:
        reason = (
            "oauth2store login needs a loopback redirection_endpoint such as http://127.0.0.1/callback "
            f"(RFC 8252 §7.3; oauth2store client set {application_name} --redirect-url URL)"
        )
        raise ClientNotUsableError(application_name, reason)
    parts = urlsplit(registered)
    return parts.hostname or "", parts.path or "/"


def _timeout(text: str) -> int:
    return integer(text, lambda message: ValidationError("login", None, [Problem("--timeout", message)]), minimum=1)


@click.command("login")
@click.argument("application_name")
@session_option("store the tokens under")
@click.option("--scope", "scopes", multiple=True, help="Scope to ask for (repeatable); default: the client's.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; open the printed URL yourself.")
@click.option(
    "--timeout",
    "timeout_text",
    default=str(DEFAULT_TIMEOUT),
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the browser to come back.",
)
@allow_insecure_http
@json_option("Who signed in, the scope and the expiry, as JSON.")
@pass_settings
def login_command(
    settings: Settings,
    /,
    application_name: str,
    session_id: str,
    scopes: tuple[str, ...],
    no_browser: bool,
    timeout_text: str,
    allow_insecure_http: bool,
    as_json: bool,
) -> None:
    """Sign a person in through a browser and keep the tokens under --session (RFC 8252: PKCE, a redirect to a
    one-shot listener on a free port of 127.0.0.1). The URL is printed on stderr, and opened unless --no-browser."""
    timeout = _timeout(timeout_text)
    signin = _signin(settings, application_name, allow_insecure_http)
    host, path = _loopback(settings, application_name)
    with LoopbackListener(host, path, application_name) as listener:
        request = signin.authorization_url(
            session_id, scope=" ".join(scopes) if scopes else None, loopback_port=listener.port
        )
        click.echo(f"Sign in to {application_name} in a browser (waiting {timeout} s):\n\n  {request.url}\n", err=True)
        if not no_browser and not webbrowser.open(request.url):
            click.echo("No browser could be opened: open the URL above.", err=True)
        try:
            answered = listener.wait(signin.handle_callback, timeout)
        except KeyboardInterrupt:
            raise click.Abort from None
    if not answered:
        redirect = f"http://{host if ':' not in host else f'[{host}]'}:{listener.port}{path}"
        raise SignInTimedOut(f"no sign-in came back to {redirect} within {timeout} s; run oauth2store login again")
    tokens = signin.is_authorized(session_id, refresh=False)
    subject = unverified_claims(tokens.id_token).get("sub") if tokens.id_token else None
    if as_json:
        emit_json({"application": application_name, "session": session_id, "subject": subject, **_expiry(tokens)})
        return
    who = f" as {subject}" if subject else ""
    click.echo(f"signed in to {application_name}{who} (session {session_id}, scope {tokens.scope or '-'})")


def _expiry(tokens: SessionTokens) -> dict[str, Any]:
    return {"scope": tokens.scope, "expires_at": tokens.expires.isoformat() if tokens.expires else None}


def session_token(
    settings: Settings, application_name: str, session_id: str, scopes: tuple[str, ...], allow_insecure_http: bool
) -> dict[str, Any]:
    """`token --session`: the session's access token (refreshed when due, through `SignIn.is_authorized`) with
    its expiry and scope.

    Raises:
        NotSignedIn: no token for the scope, or the server refused the refresh (exit 4: sign in again).
        RefreshFailed: the refresh failed for now (server unreachable, exit 7: try again later).
    """
    signin = _signin(settings, application_name, allow_insecure_http)
    tokens = signin.is_authorized(session_id, " ".join(scopes) if scopes else None)
    if tokens.is_authorized and tokens.access_token:
        return {"access_token": tokens.access_token, "session": session_id, **_expiry(tokens)}
    error = tokens.error or {}
    if error.get("error") == "temporarily_unavailable":  # see _signin.refresh: a failure other than an answer
        raise RefreshFailed(f"the session's token could not be refreshed: {error.get('error_description')}")
    wanted = f" for scope {' '.join(scopes)}" if scopes else ""
    refused = f" (the server refused the refresh: {error['error']})" if error.get("error") else ""
    raise NotSignedIn(
        f"session {session_id!r} of {application_name} is not signed in{wanted}{refused}; "
        f"run oauth2store login {application_name} --session {session_id}"
    )


@click.command("logout")
@click.argument("application_name")
@session_option("sign out")
@allow_insecure_http
@pass_settings
def logout_command(settings: Settings, /, application_name: str, session_id: str, allow_insecure_http: bool) -> None:
    """Sign the session out: revoke its tokens at the server (when it has a revocation endpoint) and remove them
    from the store. The browser's session at the server is not ended (that is RP-initiated logout, for browsers)."""
    if not _signin(settings, application_name, allow_insecure_http).revoke_token(session_id):
        raise NotSignedIn(f"session {session_id!r} of {application_name} is not signed in")
    click.echo(f"signed out of {application_name} (session {session_id})")
