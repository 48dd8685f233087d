"""The connections requests go out on: one requests.Session per TLS configuration and thread, peer-checked.

`SessionPool` keeps each thread's sessions, cached by the TLS settings' content (so an edited configuration gets a
new session). A session carries an `ssl.SSLContext` built in memory by `build_ssl_context`: the CA bundle is loaded
from the PEM text (`cadata`), and a client certificate and key are written to a private temporary directory (0700,
files 0600) only for the instant `load_cert_chain` reads them, then removed; the encrypted key is loaded with its
password, so no decrypted key ever touches the disk. The "default" configuration (no CA bundle) trusts the system
CA store. Every connection of the pool's sessions applies the request's `ADDRESS_RULE` to the address it actually
reached, before sending anything. This is the part that knows urllib3 and requests' adapters; which rule applies
is decided per call by `transport`, and what the rule is, by `endpoints`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .._errors import KeyMaterialError
from .._lru import LRUCache
from .endpoints import PrivateAddressError
from .values import TlsSettings

#: The address rule of the request being sent in this thread (None: any address), read by the connections below.
ADDRESS_RULE: ContextVar[Callable[[str], None] | None] = ContextVar("oauth2store_address_rule", default=None)
#: The connections the request being sent in this thread uses, so that its deadline can cut them (`cut`).
CALL_CONNECTIONS: ContextVar[list[Any] | None] = ContextVar("oauth2store_call_connections", default=None)


def cut(connections: list[Any]) -> None:
    """Shut down the sockets of `connections`: a read blocked on one returns at once (a deadline passed).

    A read timeout bounds each read, not the call: a server dripping a byte at a time keeps a request going for as
    long as it likes. Shutting the socket down from another thread is what ends such a read.
    """
    for connection in list(connections):
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def _check_peer(sock: socket.socket) -> None:
    rule = ADDRESS_RULE.get()
    if rule is not None:
        rule(str(sock.getpeername()[0]))


class _PeerChecked:
    """Checks the address a connection actually reached, before a byte of the request is sent on it: when it is
    opened (after DNS, so a host name that resolves to a private address is caught, rebinding included) and
    again each time it is reused from the pool (a request with a stricter rule may reuse it). Each request also
    makes the connection known to its call's deadline (`CALL_CONNECTIONS`)."""

    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            _check_peer(sock)
        except PrivateAddressError:
            sock.close()
            raise
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:
            _check_peer(self.sock)
        tracked = CALL_CONNECTIONS.get()
        if tracked is not None:
            tracked.append(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _CheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    """An adapter whose connections check the address they reach (see `_PeerChecked`)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


class _TlsAdapter(_CheckedAdapter):
    """An adapter whose connections use one prepared SSLContext, and never requests' own CA bundle."""

    def __init__(self, context: ssl.SSLContext, verify_peer: bool) -> None:
        self._context = context
        self._verify_peer = verify_peer
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED" if self._verify_peer else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def build_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """An SSLContext for the settings: their CA bundle (else the system store), client certificate, verification.

    Raises:
        KeyMaterialError: the client certificate or key cannot be loaded.
    """
    context = ssl.create_default_context(cadata=settings.certificate_authorities or None)
    if not settings.verify_peer:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.certificate and settings.private_key:
        directory = tempfile.mkdtemp(prefix="oauth2store-tls-")  # mode 0700
        try:
            paths = []
            for name, pem in (("cert.pem", settings.certificate), ("key.pem", settings.private_key)):
                path = os.path.join(directory, name)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(pem)
                paths.append(path)
            context.load_cert_chain(paths[0], paths[1], password=settings.private_key_password or None)
        except (ssl.SSLError, OSError) as exc:
            raise KeyMaterialError(
                None, f"SSLConfiguration {settings.name!r}: the client certificate or its key cannot be loaded"
            ) from exc
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return context


class SessionPool:
    """requests.Sessions by TLS configuration, one set per thread, so no session is ever used by two threads.

    requests does not promise that a Session is thread-safe, and closing a session that another thread is using
    breaks that thread's request: each thread keeps its own few sessions (least recently used closed first), and
    only the thread that owns a session ever closes it. A store holds one pool (see `oauth2store._state`).
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._local = threading.local()

    def _sessions(self) -> LRUCache[TlsSettings, requests.Session]:
        sessions: LRUCache[TlsSettings, requests.Session] | None = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = LRUCache(self.size, on_evict=requests.Session.close)
        return sessions

    def get(self, settings: TlsSettings) -> requests.Session:
        """This thread's session for `settings`, made (with its SSLContext) at first use."""
        sessions = self._sessions()
        session = sessions.get(settings)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or netrc from the environment: credentials go only where configured
            session.verify = settings.verify_peer
            session.mount("http://", _CheckedAdapter())
            session.mount("https://", _TlsAdapter(build_ssl_context(settings), settings.verify_peer))
            sessions.put(settings, session)
        return session

    def clear(self) -> None:
        """Close this thread's sessions."""
        self._sessions().clear()
