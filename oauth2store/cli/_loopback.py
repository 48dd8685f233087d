"""The one-shot loopback listener of `oauth2store login`: where the browser lands after signing in (RFC 8252 §7.3).

It binds a free port on the client's loopback address before the authorization request is made (the redirect URI
names the port), and serves on a thread of its own until one request to the redirect path carries an answer
(`code`, `state` or `error`). That answer is handed to `handle` (the sign-in's callback) while the browser waits,
so the page it shows says whether the sign-in worked; other requests (a favicon, a stray visitor) get a 404 and
change nothing. Requests are never logged: their query holds the authorization code and the state.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

from .._errors import OAuth2StoreError

#: The parameters that make a request to the redirect path an authorization response (RFC 6749 §4.1.2).
_ANSWER = frozenset({"code", "state", "error"})
#: How long one connection may take to send its request: a browser's idle preconnect must not hold a thread.
_REQUEST_TIMEOUT = 10.0

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{text}</p></body></html>
"""


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port of our own, never one another process still holds

    def __init__(self, host: str, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), handler)


class LoopbackListener:
    """Listens on `host` (an IP literal: 127.0.0.1 or ::1) at a free port, for one answer at `path`.

    ::

        with LoopbackListener("127.0.0.1", "/callback", "web") as listener:
            url = ...  # the authorization URL, its redirect_uri on listener.port
            answered = listener.wait(handle_callback, timeout=300)
    """

    def __init__(self, host: str, path: str, application_name: str) -> None:
        self.path = path or "/"
        self._application_name = application_name
        self._claimed = threading.Lock()
        self._done = threading.Event()
        self._failure: BaseException | None = None
        self._handle: Callable[[dict[str, list[str]]], object] | None = None
        self._server = _Server(host, self._handler_class())
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth2store-login", daemon=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def wait(self, handle: Callable[[dict[str, list[str]]], object], timeout: float) -> bool:
        """Serve until an answer arrives and `handle` has run on its parameters (whatever `handle` raised is
        raised here, after the browser got its page); False when none came within `timeout` seconds."""
        self._handle = handle
        self._thread.start()
        if not self._done.wait(timeout):
            return False
        if self._failure is not None:
            raise self._failure
        return True

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _answer(self, parameters: dict[str, list[str]]) -> tuple[int, str, str] | None:
        """Hand the first answer to `handle`; the page for the browser, or None when another answer was first."""
        if not self._claimed.acquire(blocking=False):
            return None
        assert self._handle is not None
        try:
            self._handle(parameters)
        except OAuth2StoreError as error:  # its message never holds a secret
            self._failure = error
            return 400, "Sign-in failed", f"{error}. Close this window and run oauth2store login again."
        except Exception as error:
            self._failure = error
            return 500, "Sign-in failed", f"Unexpected {type(error).__name__}: see the terminal."
        return 200, "Signed in", f"Signed in to {self._application_name}. You may close this window."

    def _finish(self) -> None:
        self._done.set()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            timeout = _REQUEST_TIMEOUT
            server_version = "oauth2store-login"
            sys_version = ""

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                parameters = parse_qs(parts.query, keep_blank_values=True)  # a repeated member is refused
                if parts.path != listener.path or not _ANSWER & set(parameters):
                    self._page(404, "Not found", "This is the sign-in listener of oauth2store login.")
                    return
                outcome = listener._answer(parameters)
                if outcome is None:
                    self._page(409, "Already answered", "This sign-in was answered already.")
                    return
                self._page(*outcome)
                listener._finish()  # only once the browser has its page

            def _page(self, status: int, title: str, text: str) -> None:
                body = _PAGE.format(title=escape(title), text=escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                """Nothing: the request line holds the authorization code and the state."""

        return Handler
