"""A failed renewal as every process reads it back, and when the server may be asked again.

A failure is recorded in the key's renewal row (never a secret: the server's error code and description, the
status, the endpoint without its query), so that the other processes get it at once, or the token that still
works, instead of asking the server again. When to ask again: what the server's Retry-After said (capped); for an
answer that says the client is misconfigured (`invalid_client` and the other RFC 6749 §5.2 errors), a short hold,
so that a broken client does not send a request per call but a fix is tried soon; otherwise exponential backoff
with jitter, capped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .._errors import OAuth2StoreError, OAuthServerError, ProtocolError, TransportError

#: The errors of an exchange with the server, which are recorded and shared; any other error (a local
#: configuration problem) is raised to its caller only, as it sent nothing.
RECORDED = (OAuthServerError, TransportError, ProtocolError)
#: Seconds before a client the server refused (RFC 6749 §5.2) is tried again.
CONFIGURATION_HOLD = 10.0
#: The first backoff after a failure, doubled after each further one, up to `MAX_BACKOFF`.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
#: The longest Retry-After honoured, in seconds.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class Failure:
    """What went wrong, as plain values: enough to raise the same kind of error in another process."""

    kind: str
    url: str
    message: str
    error: str | None = None
    error_description: str | None = None
    error_uri: str | None = None
    status_code: int | None = None

    @classmethod
    def of(cls, exc: OAuth2StoreError) -> Failure:
        url = str(getattr(exc, "url", ""))
        if isinstance(exc, OAuthServerError):
            return cls("oauth", url, str(exc), exc.error, exc.error_description, exc.error_uri, exc.status_code)
        status = getattr(exc, "status_code", None)
        kind = "transport" if isinstance(exc, TransportError) else "protocol"
        return cls(kind, url, str(getattr(exc, "reason", exc)), status_code=status)

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, value: object) -> Failure:
        if not isinstance(value, dict):
            return cls("transport", "", "an earlier renewal failed")

        def text(name: str) -> str | None:
            member = value.get(name)
            return member if isinstance(member, str) else None

        status = value.get("status_code")
        return cls(
            text("kind") or "transport",
            text("url") or "",
            text("message") or "an earlier renewal failed",
            text("error"),
            text("error_description"),
            text("error_uri"),
            status if isinstance(status, int) and not isinstance(status, bool) else None,
        )

    def exception(self, retry_at: float) -> OAuth2StoreError:
        """The error to raise for this recorded failure, with a note on when the server is asked again."""
        exc: OAuth2StoreError
        if self.kind == "oauth":
            exc = OAuthServerError(
                self.url, self.error or "server_error", self.error_description, self.error_uri, self.status_code
            )
        elif self.kind == "protocol":
            exc = ProtocolError(self.url, self.message, self.status_code)
        else:
            exc = TransportError(self.url, self.message, status_code=self.status_code)
        moment = time.strftime("%H:%M:%S", time.localtime(retry_at))
        exc.add_note(f"A renewal of this token failed so; no request is sent to the server before {moment}.")
        return exc


def retry_at(
    exc: OAuth2StoreError,
    failures: int,
    now: float,
    rand: Callable[[], float] = random.random,
    max_backoff: float = MAX_BACKOFF,
) -> float:
    """The epoch second from which the server may be asked again, after `failures` consecutive failures."""
    if isinstance(exc, TransportError) and exc.retry_after is not None:
        return now + min(max(exc.retry_after, 0.0), MAX_RETRY_AFTER)
    if isinstance(exc, OAuthServerError):
        return now + CONFIGURATION_HOLD
    ceiling = min(max_backoff, FIRST_BACKOFF * 2.0 ** max(failures - 1, 0))
    return now + ceiling / 2 + rand() * ceiling / 2  # equal jitter: spread out, never next to nothing
