"""Signing a user in (and out) at the test oidc-provider without a browser: its own login, consent and logout pages
driven with plain `requests`, as a browser would submit them.

The provider must run with `sign_in=True` (its devInteractions pages: any login name, any password). A `Browser`
keeps the provider's cookies, so the same user can sign in to several clients, or log out, as in a real browser.
The redirect to the client's redirection endpoint (or post-logout URI) is not followed: its parameters (from the
query, or from the auto-submitting form of `response_mode=form_post`) are returned for the test to hand to the
library.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b([^>]*)>", re.I)
_ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')


def _attributes(tag: str) -> dict[str, str]:
    return {name.lower(): unescape(value) for name, value in _ATTRIBUTE.findall(tag)}


def _forms(html: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Every form of a page: its attributes, and its inputs' names and values."""
    forms = []
    for head, body in _FORM.findall(html):
        inputs = {}
        for tag in _INPUT.findall(body):
            attributes = _attributes(tag)
            if "name" in attributes:
                inputs[attributes["name"]] = attributes.get("value", "")
        forms.append((_attributes(head), inputs))
    return forms


class Browser:
    """A cookie jar and the pages' logic: log in with any name, consent to everything, confirm logouts."""

    def __init__(self, login: str = "alice") -> None:
        self.login = login
        self.http = requests.Session()
        self.http.trust_env = False  # loopback, never through a proxy
        #: The URLs visited, in order (the last is where the browser was sent at the end).
        self.visited: list[str] = []

    def sign_in(self, authorization_url: str, redirect_uri: str, *, max_steps: int = 20) -> dict[str, str]:
        """Follow `authorization_url` through the provider's pages until it sends the browser to `redirect_uri`;
        the parameters of that request (query, or the form a form_post page submits)."""
        return self._until(authorization_url, redirect_uri, max_steps)

    def log_out(self, logout_url: str, post_logout_redirect_uri: str, *, max_steps: int = 10) -> dict[str, str]:
        """Follow an RP-initiated logout URL, confirming at the provider's page, until it sends the browser to
        `post_logout_redirect_uri`; that request's parameters."""
        return self._until(logout_url, post_logout_redirect_uri, max_steps)

    def _until(self, url: str, target: str, max_steps: int) -> dict[str, str]:
        method, data = "GET", None
        for _ in range(max_steps):
            self.visited.append(url)
            if url.startswith(target):
                return dict(parse_qsl(urlsplit(url).query))
            response = self.http.request(method, url, data=data, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url, method, data = urljoin(url, response.headers["Location"]), "GET", None
                continue
            if response.status_code != 200:
                raise AssertionError(f"HTTP {response.status_code} at {url}: {response.text[:500]}")
            method, url, data = self._submit(url, response.text, target)
            if method == "DONE":
                assert data is not None
                return data
        raise AssertionError(f"no redirect to {target} after {max_steps} steps: {self.visited}")

    def _submit(self, url: str, html: str, target: str) -> tuple[str, str, dict[str, str] | None]:
        """What the page's form would send: a login, a consent, a logout confirmation, or a form_post answer."""
        for attributes, inputs in _forms(html):
            action = urljoin(url, attributes.get("action", url))
            if action.startswith(target):  # response_mode=form_post: the answer itself
                return "DONE", action, inputs
            prompt = inputs.get("prompt")
            if prompt == "login":
                return "POST", action, {"prompt": "login", "login": self.login, "password": "any"}
            if prompt == "consent":
                return "POST", action, {"prompt": "consent"}
            if attributes.get("id") == "op.logoutForm":
                return "POST", action, {**inputs, "logout": "yes"}
        raise AssertionError(f"no form to submit at {url}: {html[:500]}")
