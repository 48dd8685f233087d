"""OAuth2.Endpoint: a URL kept as host, port, prefix and use_ssl, composed the way IRIS composes it.

IRIS builds `http[s]://Host[:Port][/Prefix]` and then appends its own handler path
(`/csp/sys/oauth2/OAuth2.Response.cls` for a client's redirect). There is no IRIS handler here, so the prefix holds
the whole path and `url` is the redirect URI itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._errors import Problem, ValidationError
from .._validation import url_problem

_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+")
_PREFIX_FORBIDDEN = re.compile(r"[\s?#\\]")
BAD_URL = 8850  # IRIS: an unparsable redirection endpoint


def endpoint_or_none(target: object, value: object, old: object, initiator: Any) -> Endpoint | None:
    """Attribute `set` listener for an Endpoint composite: any other value is a ValidationError naming it."""
    if value is None or isinstance(value, Endpoint):
        return value
    kind = getattr(target, "kind", "Endpoint")
    problem = Problem(initiator.key, f"must be an Endpoint or None (got {type(value).__name__})", BAD_URL)
    raise ValidationError(kind, None, [problem])


@dataclass(frozen=True)
class Endpoint:
    """IRIS OAuth2.Endpoint (serial object): `Host`, `Port`, `Prefix`, `UseSSL`."""

    host: str
    port: int | None = None
    prefix: str = ""
    use_ssl: bool = True

    @property
    def url(self) -> str:
        """`http[s]://host[:port][/prefix]`, as IRIS composes it."""
        scheme = "https" if self.use_ssl else "http"
        port = f":{self.port}" if self.port is not None else ""
        prefix = f"/{self.prefix.strip('/')}" if self.prefix.strip("/") else ""
        return f"{scheme}://{self.host}{port}{prefix}"

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """The endpoint for an http(s) URL without query or fragment.

        Raises:
            ValidationError: when the URL cannot be an endpoint.
        """
        problem = url_problem(url) if isinstance(url, str) else "must be a URL string"
        if problem is not None:
            raise ValidationError("Endpoint", None, [Problem("url", problem, BAD_URL)])
        parts = urlsplit(url)
        port = parts.port
        if parts.query or parts.fragment:
            raise ValidationError("Endpoint", None, [Problem("url", "must not have a query or fragment", BAD_URL)])
        host = parts.netloc[: -len(f":{port}")] if port is not None else parts.netloc
        endpoint = cls(host=host, port=port, prefix=parts.path.strip("/"), use_ssl=parts.scheme == "https")
        endpoint.check("url")
        return endpoint

    def problems(self, name: str) -> list[Problem]:
        """Why this endpoint cannot be used as property `name`; empty when it can.

        Each part is checked on its own, then the URL they compose, which must read alike to every URL parser.
        """
        found: list[Problem] = []
        if not isinstance(self.host, str) or not _HOST.fullmatch(self.host):
            found.append(Problem(f"{name}.host", "must be a host name or IP address", BAD_URL))
        if self.port is not None and (
            not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 < self.port < 65536
        ):
            found.append(Problem(f"{name}.port", "must be an integer from 1 to 65535", BAD_URL))
        if not isinstance(self.prefix, str) or _PREFIX_FORBIDDEN.search(self.prefix) or not self.prefix.isprintable():
            message = "must be a path without spaces, control characters, '\\', '?' or '#'"
            found.append(Problem(f"{name}.prefix", message, BAD_URL))
        if not isinstance(self.use_ssl, bool):
            found.append(Problem(f"{name}.use_ssl", "must be true or false", BAD_URL))
        if not found:
            problem = url_problem(self.url)
            if problem is not None:
                found.append(Problem(name, f"its URL {problem}", BAD_URL))
        return found

    def check(self, name: str) -> None:
        """Raise ValidationError when `problems` finds any."""
        found = self.problems(name)
        if found:
            raise ValidationError("Endpoint", self.host, found)
