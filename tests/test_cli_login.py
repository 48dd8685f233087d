"""`oauth2store login`, `token --session` and `logout` against the loopback oidc-provider's own sign-in pages.

`login --no-browser` runs in a subprocess, as a person runs it; the test plays the browser (tests/browserless_login.py)
from the URL it prints on stderr to the provider's pages and back to the printed redirect on 127.0.0.1, whose
listener answers with a page. The native client is registered as RFC 8252 says (application_type native, a loopback
redirect URI without a port), and oidc-provider accepts whatever port `login` listens on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from browserless_login import Browser
from cli_shell import EXIT_INVALID, EXIT_NOT_FOUND, EXIT_SERVER, Shell
from oidc_provider import OidcProvider
from signin_setup import register_web_client

from oauth2store import AccessToken, Store
from oauth2store.cli import main

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "http://127.0.0.1/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    """A provider with the code flow and refresh-token rotation; access tokens live 300 s."""
    with OidcProvider(sign_in=True, ttl={"AccessToken": 300, "ClientCredentials": 300}) as started:
        yield started


@pytest.fixture
def native(shell: Shell, provider: OidcProvider) -> dict[str, Any]:
    """The client `cli-app`: public, PKCE, a loopback redirect URI, registered at the provider as a native app."""
    registered = register_web_client(provider, "none", application_type="native", redirect_uris=[LOOPBACK])
    shell("server", "discover", provider.issuer)
    shell(
        "client",
        "create",
        "cli-app",
        "--type",
        "public",
        "--server",
        provider.issuer,
        "--client-id",
        registered["client_id"],
        "--auth-method",
        "none",
        "--redirect-url",
        LOOPBACK,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile",
    )
    return registered


class Login:
    """`oauth2store login` running in a subprocess, and the URL it printed."""

    def __init__(self, store_url: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "oauth2store", "--db", store_url, "login", "--no-browser", *args]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stderr is not None
        self.printed: list[str] = []
        for line in self.process.stderr:  # ends at EOF if the command fails before printing the URL
            self.printed.append(line)
            if line.startswith("  http"):
                self.url = line.strip()
                break
        else:
            raise AssertionError(f"no URL printed: {''.join(self.printed)}")
        self.redirect_uri = parse_qs(urlsplit(self.url).query)["redirect_uri"][0]

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, "".join(self.printed) + err


def stored_row(store_url: str, session_id: str) -> AccessToken | None:
    with Store(store_url) as store, store.session() as db:
        row = AccessToken.OpenForSession(db, "cli-app", session_id)
        if row is not None:
            db.expunge(row)
        return row


def test_login_token_refresh_logout(
    shell: Shell, store_url: str, provider: OidcProvider, native: dict[str, Any]
) -> None:
    login = Login(store_url, "cli-app", "--session", "work", "--timeout", "120")
    redirect = urlsplit(login.redirect_uri)
    assert (redirect.scheme, redirect.hostname, redirect.path) == ("http", "127.0.0.1", "/callback")
    assert redirect.port and redirect.port != 80  # an ephemeral port, RFC 8252 §7.3
    assert parse_qs(urlsplit(login.url).query)["code_challenge_method"] == ["S256"]
    browser = Browser(login="carol")
    stray = browser.http.get(f"http://127.0.0.1:{redirect.port}/favicon.ico", timeout=10)
    assert stray.status_code == 404  # not an answer: the listener keeps waiting
    browser.sign_in(login.url, login.redirect_uri)
    page = browser.http.get(browser.visited[-1], timeout=60)  # the browser lands on the listener
    assert page.status_code == 200 and "You may close this window" in page.text
    code, out, err = login.finish()
    assert code == 0, err
    assert out.strip() == "signed in to cli-app as carol (session work, scope openid profile)"
    assert "code=" not in err  # the callback's request line is never logged

    token = shell("token", "cli-app", "--session", "work").strip()
    row = stored_row(store_url, "work")
    assert row is not None and token == row.access_token and row.refresh_token
    shown = json.loads(shell("token", "cli-app", "--session", "work", "--json"))
    assert shown["access_token"] == token and shown["scope"] == "openid profile"
    assert datetime.fromisoformat(shown["expires_at"]) > datetime.now(UTC)

    with Store(store_url) as store, store.session() as db:  # the access token expires
        expiring = AccessToken.OpenForSession(db, "cli-app", "work")
        assert expiring is not None
        expiring.expires = datetime.now(UTC) - timedelta(seconds=1)
    before = provider.token_requests()
    refreshed = shell("token", "cli-app", "--session", "work").strip()
    assert refreshed != token
    assert provider.token_requests_since(before) == {native["client_id"]: 1}  # one refresh
    again = stored_row(store_url, "work")
    assert again is not None and again.access_token == refreshed and again.refresh_token != row.refresh_token
    not_granted = shell("token", "cli-app", "--session", "work", "--scope", "email", expect=EXIT_NOT_FOUND)
    assert "is not signed in for scope email" in not_granted

    assert shell("logout", "cli-app", "--session", "work").strip() == "signed out of cli-app (session work)"
    assert stored_row(store_url, "work") is None
    reused = requests.post(  # logout revoked the refresh token at the server
        provider.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": again.refresh_token, "client_id": native["client_id"]},
        timeout=10,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "oauth2store login cli-app --session work" in shell(
        "token", "cli-app", "--session", "work", expect=EXIT_NOT_FOUND
    )
    assert "not signed in" in shell("logout", "cli-app", "--session", "work", expect=EXIT_NOT_FOUND)


def test_an_error_answer_ends_the_login_with_its_page(
    shell: Shell, store_url: str, provider: OidcProvider, native: dict[str, Any]
) -> None:
    login = Login(store_url, "cli-app")  # the session "default"
    state = parse_qs(urlsplit(login.url).query)["state"][0]
    answer = {"error": "access_denied", "error_description": "no thanks", "state": state, "iss": provider.issuer}
    page = requests.get(f"{login.redirect_uri}?{urlencode(answer)}", timeout=60)
    assert page.status_code == 400 and "access_denied" in page.text and "run oauth2store login again" in page.text
    code, _, err = login.finish()
    assert code == EXIT_SERVER and "error: the authorization server refused the sign-in: access_denied" in err
    row = stored_row(store_url, "default")
    assert row is not None and row.error is not None and row.error["error"] == "access_denied"
    assert row.access_token is None
    assert "not signed in" in shell("token", "cli-app", "--session", "default", expect=EXIT_NOT_FOUND)


def test_a_forged_answer_is_refused_and_ends_the_login(store_url: str, native: dict[str, Any]) -> None:
    login = Login(store_url, "cli-app")
    state = parse_qs(urlsplit(login.url).query)["state"][0]
    page = requests.get(f"{login.redirect_uri}?state={state}&state=other&code=c", timeout=60)
    assert page.status_code == 400 and "state must be given once" in page.text
    code, _, err = login.finish()
    assert code == EXIT_INVALID and "error: callback refused: state must be given once" in err
    row = stored_row(store_url, "default")
    assert row is not None and row.access_token is None and row.stage == "new"  # still pending, nothing stored


def test_login_times_out(
    shell: Shell, capsys: pytest.CaptureFixture[str], store_url: str, native: dict[str, Any]
) -> None:
    assert main(["--db", store_url, "login", "cli-app", "--no-browser", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:" in err and err.splitlines()[-1].startswith("error: no sign-in came back to http")


def test_login_refusals(shell: Shell, native: dict[str, Any]) -> None:
    assert "agent" in shell("login", "cli-app", "--session", "agent:x", expect=EXIT_INVALID)
    assert "--timeout" in shell("login", "cli-app", "--timeout", "0", expect=EXIT_INVALID)
    shell("client", "set", "cli-app", "--redirect-url", "https://app.example/callback")
    assert "loopback redirection_endpoint" in shell("login", "cli-app", "--no-browser", expect=EXIT_INVALID)
    shell("client", "set", "cli-app", "--redirect-url", "http://localhost/callback")  # RFC 8252 §8.3: an IP literal
    assert "loopback redirection_endpoint" in shell("login", "cli-app", "--no-browser", expect=EXIT_INVALID)
    assert "not found" in shell("login", "ghost", expect=EXIT_NOT_FOUND)
    assert "--resource" in shell("token", "cli-app", "--session", "s", "--resource", "urn:x", expect=2)
