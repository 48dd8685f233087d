"""The plain values HTTP calls are made of: TLS settings, the retry policy, a response, a form body, a JSON body.

They are data, free of I/O, so protocol processing (`HttpResponse` in, claims or errors out) is testable without a
network. What is done with them, sending and retrying, lives in `transport`; how a session is built from
`TlsSettings`, in `connections`.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import ProtocolError

#: Seconds to connect and to wait for each read.
DEFAULT_TIMEOUT = (5.0, 15.0)
#: Seconds one whole call may take: every attempt, read and backoff of it.
DEFAULT_DEADLINE = 20.0

#: A form body: a mapping, or pairs when a name repeats (e.g. several RFC 8707 resources).
FormData = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class TlsSettings:
    """The TLS parts of an SSLConfiguration, as plain values (hashable: the session cache key)."""

    name: str = "default"
    certificate_authorities: str | None = field(default=None, repr=False)
    certificate: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    private_key_password: str | None = field(default=None, repr=False)
    verify_peer: bool = True


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter, for 5xx, 429, timeouts and connection errors."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `attempt` (1-based): Retry-After when given (capped), else jitter.

        A Retry-After that is not a number (NaN) counts as absent, so `time.sleep` never gets one.
        """
        if retry_after is not None and not math.isnan(retry_after):
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling: float = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return rand() * ceiling


@dataclass(frozen=True)
class HttpResponse:
    """What protocol processing needs from an HTTP response: pure data, so processing is testable without I/O."""

    url: str
    status_code: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object; None for anything else (not JSON, another JSON value, nested too deeply)."""
        try:
            value = _json_value(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def _json_value(body: bytes) -> Any:
    """The JSON value of a body; ValueError when it is not JSON (or nested deeper than the parser's recursion)."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def parse_json_object(response: HttpResponse, *, expected_status: int = 200) -> dict[str, Any]:
    """The JSON object of a response with the expected status.

    Raises:
        ProtocolError: another status, or a body that is not a JSON object.
    """
    if response.status_code != expected_status:
        raise ProtocolError(response.url, f"expected HTTP {expected_status}", response.status_code)
    try:
        value = _json_value(response.body)
    except ValueError as exc:
        raise ProtocolError(response.url, "the body is not JSON", response.status_code) from exc
    if not isinstance(value, dict):
        raise ProtocolError(response.url, "the body is not a JSON object", response.status_code)
    return value
