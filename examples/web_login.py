"""A web application that signs its users in through a stored client definition (Flask: `pip install
'oauth2store[flask]'`): a login page, the callback, a profile page with the user's name, and logout.

    OAUTH2STORE_EXAMPLE_CLIENT_SECRET=... python examples/web_login.py ISSUER CLIENT_ID [--port 5000] [--db URL]
    python examples/web_login.py --port 5001 [--db URL]        # another worker on the same store

The browser's cookie holds one random value and nothing else. Everything a sign-in needs (the pending request with
its state, nonce and PKCE verifier, then the tokens) is in the store, under the SHA-256 digest of that value as the
session id: every worker and process on the same store (`--db`, or `gunicorn -w 4 'web_login:create_app()'` with
$OAUTH2STORE_URL) serves the same signed-in user, and refreshes its token once for all of them; a copy of the
database does not give anyone the cookie. With ISSUER and CLIENT_ID the client `web-login` is defined (discovery,
redirect URI http://127.0.0.1:PORT/callback, post-logout URI http://127.0.0.1:PORT/logged-out; confidential when
$OAUTH2STORE_EXAMPLE_CLIENT_SECRET is set, else public with PKCE only); without them, the stored one is used.
Behind a proxy that ends TLS, wrap the app in werkzeug's ProxyFix so that the cookie is marked Secure.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import secrets
from html import escape

from flask import Flask, Response, redirect, request
from werkzeug.serving import make_server

from oauth2store import AuthorizationError, CallbackError, Client, Endpoint, ServerDefinition, SignIn, Store

APPLICATION = "web-login"
COOKIE = "sid"
SECRET_VARIABLE = "OAUTH2STORE_EXAMPLE_CLIENT_SECRET"


def session_id(cookie: str) -> str:
    """The store's key for a browser: a digest of its cookie, so the database never holds the cookie itself."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def create_app(store: Store | None = None) -> Flask:
    """The application, on `store` (default: $OAUTH2STORE_URL, else the default SQLite file)."""
    store = store or Store()
    signin = SignIn(store, APPLICATION)
    app = Flask(__name__)

    def current() -> str | None:
        cookie = request.cookies.get(COOKIE)
        return session_id(cookie) if cookie else None

    @app.get("/login")
    def login() -> Response:
        cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
        asked = signin.authorization_url(session_id(cookie), scope="openid profile", redirect_url="/profile")
        response = redirect("/profile" if asked.is_authorized else asked.url)
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="Lax", secure=request.is_secure)
        return response

    @app.get("/callback")
    def callback() -> Response:
        return redirect(signin.handle_callback(request.args.to_dict(flat=False)).redirect_url or "/profile")

    @app.get("/profile")
    def profile() -> Response | str:
        sid = current()
        if sid is None or not signin.is_authorized(sid, "openid").is_authorized:  # refreshes a token when due
            return redirect("/login")
        return profile_page(signin.get_userinfo(sid).get("name", ""))

    @app.post("/logout")
    def logout() -> Response:
        sid = current()
        url = signin.logout_url(sid, redirect_url="/") if sid else None  # RP-initiated logout at the server
        if url is None and sid:  # no end_session_endpoint: revoke and forget here
            signin.revoke_token(sid)
        return redirect(url or "/")

    @app.get("/logged-out")
    def logged_out() -> Response:
        response = redirect(signin.handle_logout_callback(request.args.to_dict(flat=False)) or "/")
        response.delete_cookie(COOKIE)
        return response

    @app.get("/")
    def home() -> str:
        return page('<p id="home"><a href="/profile">Your profile</a> (signs you in)</p>')

    @app.errorhandler(AuthorizationError)
    @app.errorhandler(CallbackError)
    def refused(error: Exception) -> tuple[str, int]:
        return page(f'<p id="error">{escape(str(error))}</p><a href="/login">Sign in again</a>'), 400

    return app


def profile_page(name: str) -> str:
    logout = '<form method="post" action="/logout"><button id="logout">Log out</button></form>'
    return page(f'<h1 id="name">{escape(name)}</h1>{logout}')


def page(body: str) -> str:
    return f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>web-login</title></head><body>{body}'


def define(store: Store, issuer: str, client_id: str, client_secret: str | None, base_url: str) -> None:
    """The client `web-login`: a code-flow client of `issuer` whose redirect URIs are this application's."""
    with store.session() as db:
        server = ServerDefinition.discover(db, issuer)  # http is refused unless the issuer is on loopback
        client = Client.Open(db, APPLICATION) or Client(application_name=APPLICATION)
        client.client_type = "confidential" if client_secret else "public"
        client.client_id, client.client_secret = client_id, client_secret
        client.server_definition = server
        client.redirection_endpoint = Endpoint.parse(f"{base_url}/callback")
        client.client_metadata.token_endpoint_auth_method = "client_secret_basic" if client_secret else "none"
        client.client_metadata.grant_types = ["authorization_code", "refresh_token"]
        client.client_metadata.post_logout_redirect_uris = [f"{base_url}/logged-out"]
        db.add(client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("issuer", nargs="?", help="define the client for this issuer (with CLIENT_ID)")
    parser.add_argument("client_id", nargs="?")
    parser.add_argument("--port", type=int, default=5000, help="0: any free port (default 5000)")
    parser.add_argument("--db", help="the store's URL (default: $OAUTH2STORE_URL, else the default SQLite file)")
    args = parser.parse_args()
    if bool(args.issuer) != bool(args.client_id):
        parser.error("ISSUER and CLIENT_ID go together")
    # werkzeug logs each request line: the callback's holds the authorization code and the state.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    store = Store(args.db)
    store.upgrade()
    server = make_server("127.0.0.1", args.port, create_app(store), threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    if args.issuer:
        define(store, args.issuer, args.client_id, os.environ.get(SECRET_VARIABLE), base_url)
    print(f"serving {base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


if __name__ == "__main__":
    main()
