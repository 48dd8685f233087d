"""Small loopback HTTP(S) servers for the faults the real oidc-provider will not produce (certificates for the
HTTPS ones: factories.TestCA)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Seconds between single bytes of the whole answer, status line and headers included (0: all at once).
    drip: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Reply]


class LocalServer:
    """A threaded loopback server answering every request with `handler(request)`; records what it saw."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.seen: list[Seen] = []
        #: Answers a dripping reply could not finish (the client cut the connection first).
        self.cut_short = 0
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                import json
                import time

                length = int(self.headers.get("content-length") or 0)
                request = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
                outer.seen.append(request)
                reply = outer.handler(request)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if isinstance(body, dict | list):
                    body = json.dumps(body).encode()
                    reply.headers.setdefault("Content-Type", "application/json")
                elif isinstance(body, str):
                    body = body.encode()
                if reply.drip:
                    head = f"HTTP/1.1 {reply.status} Answer\r\nContent-Length: {len(body)}\r\n"
                    head += "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
                    try:
                        for byte in (head + "\r\n").encode() + body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    except OSError:
                        outer.cut_short += 1
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve
            do_DELETE = _serve

        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.httpd.server_address[1]}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RoutedServer(LocalServer):
    """A local server that answers by path (404 elsewhere); `reply` changes an answer while it runs."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        super().__init__(lambda request: self.replies.get(request.path.split("?")[0], Reply(404, b"{}")))

    def reply(self, path: str, reply: Reply) -> str:
        """Answer `path` with `reply` from now on; returns its URL."""
        self.replies[path] = reply
        return self.url + path

    def __enter__(self) -> RoutedServer:
        super().__enter__()
        return self


@contextmanager
def serve(handler: Handler, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[LocalServer]:
    with LocalServer(handler, tls, host) as server:
        yield server
