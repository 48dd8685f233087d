"""`WWW-Authenticate` challenges (RFC 9110 §11.6.1), parsed: what a resource server says about a refused token.

A header holds one or more challenges, each a scheme with either a token68 or comma-separated parameters; several
headers add up. The bearer scheme's parameters (RFC 6750 §3: `error`, `error_description`, `scope`; RFC 9728 §5.1:
`resource_metadata`) and DPoP's (RFC 9449 §7.1: `error="use_dpop_nonce"`) are read from here. Parsing is lenient,
as browsers' is: what cannot be read ends that header's parse, and what was read before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"({_TCHARS})[ \t]*=[ \t]*({_TCHARS}|{_QUOTED})[ \t]*(?:,|$)")
_TOKEN68 = re.compile(r"([A-Za-z0-9\-._~+/]+=*)[ \t]*(?:,|$)")
_SCHEME = re.compile(rf"({_TCHARS})(?:[ \t]+|(?=,)|$)")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Challenge:
    """One challenge: its scheme (lower case), its parameters (names in lower case), or its token68."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """The challenges of every `WWW-Authenticate` header value, in order."""
    found: list[Challenge] = []
    for value in values:
        found += _parse(value)
    return found


def _parse(value: str) -> list[Challenge]:
    found: list[Challenge] = []
    position = 0
    while True:
        position = _skip_separators(value, position)
        scheme = _SCHEME.match(value, position)
        if scheme is None:
            return found
        position = scheme.end()
        params: dict[str, str] = {}
        token68 = None
        param = _PARAM.match(value, position)
        if param is None and (single := _TOKEN68.match(value, position)) is not None:
            token68, position = single.group(1), single.end()
        while param is not None:
            name, raw = param.group(1).lower(), param.group(2)
            params.setdefault(name, _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw)
            position = _skip_separators(value, param.end())
            param = _PARAM.match(value, position)
        found.append(Challenge(scheme.group(1).lower(), params, token68))


def _skip_separators(value: str, position: int) -> int:
    while position < len(value) and value[position] in " \t,":
        position += 1
    return position


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of `scheme` (any case), if any."""
    wanted = scheme.lower()
    return next((challenge for challenge in challenges if challenge.scheme == wanted), None)
