"""The call rules for every request to an authorization server: `Transport`.

Every call has a timeout, reads at most `max_response_bytes`, follows redirects only to the same origin (GET only),
and maps failures onto the error tree. Every request's URL is checked first (`check_endpoint`: https, unambiguous,
and for a remote issuer no loopback or private address), and the pool's connections check the address they actually
reached before sending anything, so a host name that resolves to an internal address is refused too. Retries of
5xx/429/timeouts/connection errors use exponential backoff with full jitter, honour Retry-After (capped), and never
apply to other 4xx answers. A call ends by its deadline, whatever the server does: each attempt's timeouts are cut
to the time left, no retry starts that could not finish in time, and a server that answers a byte at a time has its
connection shut down when the deadline passes. This is the one place that decides, per call, which rules apply;
the rules themselves are in `endpoints`, the sessions and their TLS in `connections`, and what goes in and comes
out in `values`.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.util import parse_url

from .._errors import InsecureEndpointError, ProtocolError, TransportError
from .connections import ADDRESS_RULE, CALL_CONNECTIONS, SessionPool, cut
from .endpoints import (
    PRIVATE_REFUSED,
    PrivateAddressError,
    check_endpoint,
    check_resolved,
    origin,
    private_allowed,
    refuse_private,
)
from .values import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, FormData, HttpResponse, RetryPolicy, TlsSettings

#: Largest response body read from an authorization server.
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
#: Same-origin redirects followed for a GET.
MAX_REDIRECTS = 5
_RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
#: The largest Retry-After kept (about 31 years); `RetryPolicy.max_retry_after` caps what is actually waited.
_FAR_RETRY_AFTER = 1e9


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


class Transport:
    """Sends requests for one TLS configuration with the call rules above.

    Sessions come from `pool` (a store's pool, shared by its transports; a private one when not given), or
    `session` is used as it is (an application's own, or a test's). `issuer` is the server the calls are for:
    URLs on its host are the ones its configuration chose; any other host a remote issuer names may not be a
    loopback or private address unless `allow_private_network` (judged on the address connected to with the pool's
    sessions, on a lookup just before the call with an injected one). Without an issuer, URLs are the caller's.

    `deadline` is the most seconds a call takes, retries and backoff included (`bounded` gives a copy whose calls
    also end by a given moment, for a caller with a deadline of its own). An injected `session` keeps its own
    connections, which the deadline cannot shut down: there each read is bounded by the timeout only.
    """

    def __init__(
        self,
        tls: TlsSettings | None = None,
        *,
        session: requests.Session | None = None,
        pool: SessionPool | None = None,
        timeout: tuple[float, float] | None = None,
        deadline: float = DEFAULT_DEADLINE,
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
        self.deadline = deadline
        #: The time.monotonic() moment by which every call of this transport ends (see `bounded`), if any.
        self.ends_by: float | None = None
        self.max_response_bytes = max_response_bytes
        self.retry = retry or RetryPolicy()
        self.allow_insecure_http = allow_insecure_http
        self.sleep = sleep
        self.clock = clock
        self.rand = rand

    def bounded(self, ends_by: float) -> Transport:
        """A copy of this transport whose calls also end by `ends_by` (a time.monotonic() moment)."""
        bounded = copy.copy(self)
        bounded.ends_by = ends_by if self.ends_by is None else min(self.ends_by, ends_by)
        return bounded

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
        end = time.monotonic() + self.deadline
        if self.ends_by is not None:
            end = min(end, self.ends_by)
        attempt = 0
        while True:
            attempt += 1
            if time.monotonic() >= end:
                raise TransportError(url, f"no answer within the call's deadline ({attempt - 1} attempts)")
            try:
                response = self._send_following(method, url, data, json_body, headers, end)
            except TransportError:
                if attempt >= self.retry.attempts:
                    raise
                delay = self.retry.delay(attempt, None, self.rand)
                if time.monotonic() + delay >= end:
                    raise
                self.sleep(delay)
                continue
            if response.status_code not in _RETRIED_STATUS:
                return response
            retry_after = _retry_after(response.headers, self.clock)
            last = attempt >= self.retry.attempts
            delay = 0.0 if last else self.retry.delay(attempt, retry_after, self.rand)
            if last or time.monotonic() + delay >= end:
                raise TransportError(
                    url,
                    f"HTTP {response.status_code} after {attempt} attempts",
                    status_code=response.status_code,
                    retry_after=retry_after,
                )
            self.sleep(delay)

    def _send_following(
        self,
        method: str,
        url: str,
        data: FormData | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        end: float,
    ) -> HttpResponse:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, current, data, json_body, headers, end)
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
        self,
        method: str,
        url: str,
        data: FormData | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        end: float,
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
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise TransportError(url, "no answer within the call's deadline")
        timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
        connections: list[Any] = []
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            cut(connections)

        watchdog = threading.Timer(remaining, expire)
        watchdog.daemon = True
        reset = ADDRESS_RULE.set(rule)
        tracking = CALL_CONNECTIONS.set(connections)
        try:
            if rule is not None and not checked:
                check_resolved(host, target.port or (443 if target.scheme == "https" else 80))
            watchdog.start()
            with self.session.request(
                method,
                url,
                data=form,
                json=json_body,
                headers=all_headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                body = self._read(url, response)
            if expired.is_set():  # cut mid-answer: what was read is a fragment, whatever it looks like
                raise TransportError(url, "no answer within the call's deadline")
            return HttpResponse(url, response.status_code, CaseInsensitiveDict(response.headers), body)
        except (requests.exceptions.RequestException, ProtocolError) as exc:
            if expired.is_set() or time.monotonic() >= end:
                raise TransportError(url, "no answer within the call's deadline") from exc
            raise self._transport_error(url, exc) from exc
        except PrivateAddressError as exc:
            raise InsecureEndpointError(url, f"{PRIVATE_REFUSED}; it reached {exc.address}") from None
        finally:
            watchdog.cancel()
            CALL_CONNECTIONS.reset(tracking)
            ADDRESS_RULE.reset(reset)

    @staticmethod
    def _transport_error(url: str, exc: Exception) -> Exception:
        if isinstance(exc, ProtocolError):
            return exc
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportError(url, f"TLS failure ({type(exc).__name__})")
        if isinstance(exc, requests.exceptions.Timeout):
            return TransportError(url, "timed out")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return TransportError(url, "connection failed")
        return TransportError(url, f"request failed ({type(exc).__name__})")

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
