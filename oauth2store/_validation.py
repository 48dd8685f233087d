"""IRIS datatype rules (Required, MINLEN, MAXLEN, VALUELIST, MINVAL) as pure checks on one value.

IRIS generates a `<Prop>IsValid()` class method per property; here one `Rules` value per property carries the
same parameters and `check` returns the broken ones as `Problem`s, without touching a database.
The IRIS error numbers are kept on each problem: #5659 required, #7201 MAXLEN, #7202 MINLEN, #7205 VALUELIST.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from ._errors import Problem

REQUIRED = 5659
MAXLEN = 7201
MINLEN = 7202
VALUELIST = 7205
DATATYPE = 7207


class Kind(StrEnum):
    """The shape of a property's value: the IRIS datatype, or the client-metadata member kind."""

    STRING = "string"
    URI = "uri"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    LIST = "list"
    URI_LIST = "uri_list"
    JSON = "json"


@dataclass(frozen=True)
class Rules:
    """The declared constraints of one property, as IRIS's class definition states them."""

    iris_name: str
    kind: Kind = Kind.STRING
    required: bool = False
    minlen: int | None = None
    maxlen: int | None = None
    valuelist: tuple[str, ...] | None = None
    minval: int | None = None
    secret: bool = False

    def is_empty(self, value: object) -> bool:
        """IRIS treats "" as no value; so do we, and an empty list likewise."""
        return value is None or value == "" or (self.kind in (Kind.LIST, Kind.URI_LIST) and value == [])


def check(name: str, rules: Rules, value: object) -> list[Problem]:
    """Every rule `value` breaks as property `name`; an empty list means valid."""
    if rules.is_empty(value):
        return [Problem(name, "is required", REQUIRED)] if rules.required else []
    checker = _CHECKERS[rules.kind]
    return checker(name, rules, value)


def _shown(rules: Rules, value: object) -> str:
    """A short form of a rejected value for messages; a secret's value is never shown."""
    if rules.secret:
        return "a secret value"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_string(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(name, f"must be a string (got {type(value).__name__})", DATATYPE)]
    problems: list[Problem] = []
    if rules.valuelist is not None and value not in rules.valuelist:
        allowed = ", ".join(rules.valuelist)
        problems.append(Problem(name, f"must be one of {allowed} (got {_shown(rules, value)})", VALUELIST))
    if rules.maxlen is not None and len(value) > rules.maxlen:
        problems.append(Problem(name, f"must be at most {rules.maxlen} characters (got {len(value)})", MAXLEN))
    if rules.minlen is not None and len(value) < rules.minlen:
        problems.append(Problem(name, f"must be at least {rules.minlen} characters (got {len(value)})", MINLEN))
    return problems


def is_absolute_url(value: str) -> bool:
    """True for an http(s) URL with a host, the only URLs OAuth endpoints may have."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def _check_uri(name: str, rules: Rules, value: object) -> list[Problem]:
    problems = _check_string(name, rules, value)
    if not problems and not is_absolute_url(str(value)):
        problems.append(Problem(name, f"must be an absolute http(s) URL (got {_shown(rules, value)})", DATATYPE))
    return problems


def _check_integer(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [Problem(name, f"must be an integer (got {_shown(rules, value)})", DATATYPE)]
    if rules.minval is not None and value < rules.minval:
        return [Problem(name, f"must be at least {rules.minval} (got {value})", DATATYPE)]
    return []


def _check_boolean(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, bool):
        return [Problem(name, f"must be true or false (got {_shown(rules, value)})", DATATYPE)]
    return []


def _check_list(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return [Problem(name, f"must be a list of strings (got {type(value).__name__})", DATATYPE)]
    if not all(isinstance(item, str) and item for item in value):
        return [Problem(name, "must be a list of non-empty strings", DATATYPE)]
    if rules.kind is Kind.URI_LIST:
        bad = [item for item in value if not is_absolute_url(item)]
        if bad:
            return [Problem(name, f"must hold absolute http(s) URLs (got {_shown(rules, bad[0])})", DATATYPE)]
    return []


def _check_json(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(name, f"must be a JSON object (got {type(value).__name__})", DATATYPE)]
    return []


_CHECKERS: dict[Kind, Callable[[str, Rules, object], list[Problem]]] = {
    Kind.STRING: _check_string,
    Kind.URI: _check_uri,
    Kind.INTEGER: _check_integer,
    Kind.BOOLEAN: _check_boolean,
    Kind.LIST: _check_list,
    Kind.URI_LIST: _check_list,
    Kind.JSON: _check_json,
}
