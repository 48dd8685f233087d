"""HTTP for every call to an authorization server: TLS from a stored SSLConfiguration, timeouts, bounded bodies.

One `requests.Session` per distinct TLS configuration and thread (cached by its content, so an edited configuration
gets a new session). The session carries an `ssl.SSLContext` built in memory: the CA bundle is loaded from the PEM text
(`cadata`), and a client certificate and key are written to a private temporary directory (0700, files 0600) only
for the instant `load_cert_chain` reads them, then removed; the encrypted key is loaded with its password, so no
decrypted key ever touches the disk. The "default" configuration (no CA bundle) trusts the system CA store.

Every call has a timeout, reads at most `max_response_bytes`, follows redirects only to the same origin (GET only),
and maps failures onto the error tree. Every request's URL is checked first (`check_endpoint`: https, unambiguous,
and for a remote issuer no loopback or private address), and the pool's connections check the address they actually
reached before sending anything, so a host name that resolves to an internal address is refused too. Retries of
5xx/429/timeouts/connection errors use exponential backoff with full jitter, honour Retry-After (capped), and never
apply to other 4xx answers.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import parse_url

from ._errors import InsecureEndpointError, KeyMaterialError, ProtocolError, TransportError
from ._http.endpoints import (
    PRIVATE_REFUSED,
    PrivateAddressError,
    check_endpoint,
    check_resolved,
    origin,
    private_allowed,
    refuse_private,
)
from ._http.values import FormData, HttpResponse, RetryPolicy, TlsSettings
from ._lru import LRUCache

#: Seconds to connect and to wait for each read.
DEFAULT_TIMEOUT = (5.0, 15.0)
#: Largest response body read from an authorization server.
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
#: Same-origin redirects followed for a GET.
MAX_REDIRECTS = 5
_RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
#: The largest Retry-After kept (about 31 years); `RetryPolicy.max_retry_after` caps what is actually waited.
_FAR_RETRY_AFTER = 1e9
#: The address rule of the request being sent in this thread (None: any address), read by the connections below.
_ADDRESS_RULE: ContextVar[Callable[[str], None] | None] = ContextVar("oauth2store_address_rule", default=None)


def _retry_after(headers: Mapping[str, str], now: Callable[[], float]) -> float | None:
    """Seconds the server asks us to wait (RFC 9110 §10.2.3: delay-seconds or an HTTP date), finite and >= 0.

    Anything else (NaN, infinity, negative or fractional numbers, garbage) is treated as absent; a huge delay is
    returned as `_FAR_RETRY_AFTER`, and `RetryPolicy.delay` caps it.
    """
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        # int() of a very long digit string is slow (and refused beyond 4300 digits): anything that long is huge.
        return float(min(int(value[:12]), _FAR_RETRY_AFTER))
    try:
        when = parsedate_to_datetime(value)
        seconds = when.timestamp() - now()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(seconds, 0.0), _FAR_RETRY_AFTER) if math.isfinite(seconds) else None


def _check_peer(sock: socket.socket) -> None:
    rule = _ADDRESS_RULE.get()
    if rule is not None:
        rule(str(sock.getpeername()[0]))


class _PeerChecked:
    """Checks the address a connection actually reached, before a byte of the request is sent on it: when it is
    opened (after DNS, so a host name that resolves to a private address is caught, rebinding included) and
    again each time it is reused from the pool (a request with a stricter rule may reuse it)."""

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


class Transport:
    """Sends requests for one TLS configuration with the call rules above.

    Sessions come from `pool` (a store's pool, shared by its transports; a private one when not given), or
    `session` is used as it is (an application's own, or a test's). `issuer` is the server the calls are for:
    URLs on its host are the ones its configuration chose; any other host a remote issuer names may not be a
    loopback or private address unless `allow_private_network` (judged on the address connected to with the pool's
    sessions, on a lookup just before the call with an injected one). Without an issuer, URLs are the caller's.
    """

    def __init__(
        self,
        tls: TlsSettings | None = None,
        *,
        session: requests.Session | None = None,
        pool: SessionPool | None = None,
        timeout: tuple[float, float] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        issuer: str | None = None,
        allow_private_network: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.tls = tls or TlsSettings()
        self.issuer = issuer
        self.allow_private_network = allow_private_network
        self._session = session
        self._pool = pool if pool is not None else SessionPool()
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.max_response_bytes = max_response_bytes
        self.retry = retry or RetryPolicy()
        self.allow_insecure_http = allow_insecure_http
        self.sleep = sleep
        self.clock = clock
        self.rand = rand

    @property
    def session(self) -> requests.Session:
        """The injected session, else the calling thread's session of the pool for this TLS configuration."""
        return self._session if self._session is not None else self._pool.get(self.tls)

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET with retries; same-origin redirects are followed."""
        return self.request("GET", url, headers=headers)

    def post_form(self, url: str, data: FormData, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """POST an application/x-www-form-urlencoded body with retries; redirects are refused."""
        return self.request("POST", url, data=data, headers=headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        data: FormData | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """One logical call: retried on 5xx/429/timeouts/connection errors, at most `retry.attempts` times.

        The body is the form `data`, or `json_body` sent as application/json (RFC 7591 registration requests).

        Raises:
            InsecureEndpointError: the URL is not https (and not loopback or explicitly allowed).
            TransportError: timeouts, connection or TLS failures, or retryable statuses, after the last attempt.
            ProtocolError: a redirect to another origin (or of a POST), or a body larger than allowed.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send_following(method, url, data, json_body, headers)
            except TransportError:
                if attempt >= self.retry.attempts:
                    raise
                self.sleep(self.retry.delay(attempt, None, self.rand))
                continue
            if response.status_code not in _RETRIED_STATUS:
                return response
            if attempt >= self.retry.attempts:
                raise TransportError(url, f"HTTP {response.status_code} after {attempt} attempts")
            self.sleep(self.retry.delay(attempt, _retry_after(response.headers, self.clock), self.rand))

    def _send_following(
        self, method: str, url: str, data: FormData | None, json_body: Any, headers: Mapping[str, str] | None
    ) -> HttpResponse:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, current, data, json_body, headers)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            if not location:
                raise ProtocolError(current, "redirect without a Location", response.status_code)
            target = urljoin(current, location)
            if method != "GET" or origin(target) != origin(current):
                raise ProtocolError(
                    current, "redirect refused (only same-origin GET redirects are followed)", response.status_code
                )
            current = target
        raise ProtocolError(url, f"more than {MAX_REDIRECTS} redirects")

    def _send(
        self, method: str, url: str, data: FormData | None, json_body: Any, headers: Mapping[str, str] | None
    ) -> HttpResponse:
        check_endpoint(
            url,
            allow_insecure_http=self.allow_insecure_http,
            issuer=self.issuer,
            allow_private_network=self.allow_private_network,
        )
        all_headers = {"Accept": "application/json", **(headers or {})}
        form = data if data is None or isinstance(data, Mapping) else list(data)
        target = parse_url(url)
        host = (target.host or "").strip("[]")
        rule = None if private_allowed(host, self.issuer, self.allow_private_network) else refuse_private
        checked = rule is not None and self._session is None  # the pool's sessions check the address connected to
        reset = _ADDRESS_RULE.set(rule)
        try:
            if rule is not None and not checked:
                check_resolved(host, target.port or (443 if target.scheme == "https" else 80))
            with self.session.request(
                method,
                url,
                data=form,
                json=json_body,
                headers=all_headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                return HttpResponse(
                    url, response.status_code, CaseInsensitiveDict(response.headers), self._read(url, response)
                )
        except PrivateAddressError as exc:
            raise InsecureEndpointError(url, f"{PRIVATE_REFUSED}; it reached {exc.address}") from None
        except requests.exceptions.SSLError as exc:
            raise TransportError(url, f"TLS failure ({type(exc).__name__})") from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError(url, "timed out") from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransportError(url, "connection failed") from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(url, f"request failed ({type(exc).__name__})") from exc
        finally:
            _ADDRESS_RULE.reset(reset)

    def _read(self, url: str, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ProtocolError(url, f"response larger than {self.max_response_bytes} bytes", response.status_code)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ProtocolError(url, f"response larger than {self.max_response_bytes} bytes", response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)
