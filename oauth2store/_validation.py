"""IRIS datatype rules (Required, MINLEN, MAXLEN, VALUELIST, MINVAL) as pure checks on one value.

IRIS generates a `<Prop>IsValid()` class method per property; here one `Rules` value per property carries the
same parameters and `check` returns the broken ones as `Problem`s, without touching a database.
The IRIS error numbers are kept on each problem: #5659 required, #7201 MAXLEN, #7202 MINLEN, #7205 VALUELIST.

Beyond IRIS, every value must be one that each backend stores and reads back unchanged: strings without NUL (which
PostgreSQL refuses) or lone surrogates (not UTF-8), integers within the column's SQL type on every backend (a store
moves between SQLite and PostgreSQL), JSON of plain JSON values only (no NaN, infinity, sets, bytes or tuples), and
URLs that every URL parser reads alike. So a bad value is a `Problem` here, never a driver error at flush.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from ._errors import Problem

#: The range of an SQL INTEGER (PostgreSQL `integer`), and of a BIGINT (SQLite's own integers are 64-bit).
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)
#: JSON integers beyond this are not exact as IEEE doubles (RFC 7493 I-JSON §2.2), so other readers change them.
JSON_INTEGER_LIMIT = 2**53 - 1
#: Deeper JSON than this is refused (a cycle would otherwise recurse forever).
JSON_MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")

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
    maxval: int | None = None
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


def is_well_typed(rules: Rules, value: object) -> bool:
    """True when `value` is empty or of the Python type its kind needs, with storable text: what cross-field
    rules may assume before they compare or hash it (its own rules may still fail, e.g. MAXLEN)."""
    if rules.is_empty(value):
        return True
    if rules.kind in (Kind.STRING, Kind.URI):
        return isinstance(value, str) and text_problem(value) is None
    if rules.kind is Kind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if rules.kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    if rules.kind in (Kind.LIST, Kind.URI_LIST):
        return (
            isinstance(value, Sequence)
            and not isinstance(value, str | bytes)
            and all(isinstance(item, str) and text_problem(item) is None for item in value)
        )
    return isinstance(value, dict)


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored and read back unchanged on every backend; None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if _SURROGATE.search(value):
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def _check_string(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(name, f"must be a string (got {type(value).__name__})", DATATYPE)]
    text = text_problem(value)
    if text is not None:
        return [Problem(name, text, DATATYPE)]
    problems: list[Problem] = []
    if rules.valuelist is not None and value not in rules.valuelist:
        allowed = ", ".join(rules.valuelist)
        problems.append(Problem(name, f"must be one of {allowed} (got {_shown(rules, value)})", VALUELIST))
    if rules.maxlen is not None and len(value) > rules.maxlen:
        problems.append(Problem(name, f"must be at most {rules.maxlen} characters (got {len(value)})", MAXLEN))
    if rules.minlen is not None and len(value) < rules.minlen:
        problems.append(Problem(name, f"must be at least {rules.minlen} characters (got {len(value)})", MINLEN))
    return problems


#: The `url_problem` of a value that is not an http(s) URL with a host at all.
NOT_ABSOLUTE = "must be an absolute http(s) URL"
_HOST = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")


def url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) URL that every parser on the way reads alike; None when it is.

    Checks judge a URL with `urllib.parse`, but requests connects where urllib3's `parse_url` says: when the two
    disagree (`http://evil.example:1234\\@127.0.0.1/` is 127.0.0.1 to one and evil.example to the other), a check
    passes for one host and the request goes to another. So user information, backslashes, whitespace, control
    characters, non-ASCII or percent-encoded host names and port 0 are refused, and both parsers must agree on the
    scheme, host and port.
    """
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return NOT_ABSOLUTE
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return NOT_ABSOLUTE
    if not value.isprintable() or " " in value or "\\" in value:
        return "must not contain whitespace, control characters or backslashes"
    if "@" in parts.netloc:
        return "must not carry user information (user:password@)"
    if not _HOST.fullmatch(host) or (":" in host and not _is_ip(host)):
        return "must have an ASCII host name or IP address (IDNA names in their xn-- form)"
    if port == 0:
        return "must not use port 0"
    # urllib3 is imported when a URL is first judged, not with the package (start-up cost).
    from urllib3.util import parse_url

    try:
        seen = parse_url(value)
    except ValueError:
        return NOT_ABSOLUTE
    if seen.auth or (seen.scheme, (seen.host or "").strip("[]").lower(), seen.port) != (parts.scheme, host, port):
        return "is read differently by the HTTP client (urllib3) and by urllib.parse"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_absolute_url(value: str) -> bool:
    """True for an http(s) URL with a host that every parser reads alike (see `url_problem`)."""
    return url_problem(value) is None


def _check_uri(name: str, rules: Rules, value: object) -> list[Problem]:
    problems = _check_string(name, rules, value)
    if problems:
        return problems
    problem = url_problem(str(value))
    if problem is None:
        return []
    # A URL with user information may carry a password: it is never shown.
    shown = "" if "@" in str(value) else f" (got {_shown(rules, value)})"
    return [Problem(name, problem + shown, DATATYPE)]


def _check_integer(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [Problem(name, f"must be an integer (got {_shown(rules, value)})", DATATYPE)]
    if rules.minval is not None and value < rules.minval:
        return [Problem(name, f"must be at least {rules.minval} (got {_shown(rules, value)})", DATATYPE)]
    if rules.maxval is not None and value > rules.maxval:
        return [Problem(name, f"must be at most {rules.maxval} (got {_shown(rules, value)})", DATATYPE)]
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
    for item in value:
        text = text_problem(item)
        if text is not None:
            return [Problem(name, f"must hold text that can be stored: each item {text}", DATATYPE)]
    if rules.kind is Kind.URI_LIST:
        for item in value:
            problem = url_problem(item)
            if problem is not None:
                shown = "" if "@" in item else f" (got {_shown(rules, item)})"
                return [Problem(name, f"must hold absolute http(s) URLs: {problem}{shown}", DATATYPE)]
    return []


def _check_json(name: str, rules: Rules, value: object) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(name, f"must be a JSON object (got {type(value).__name__})", DATATYPE)]
    problem = json_problem(value)
    return [Problem(name, problem, DATATYPE)] if problem is not None else []


def json_problem(value: object, depth: int = 0) -> str | None:
    """Why `value` would not be stored as JSON and read back equal; None when it would.

    Only dicts with string keys, lists, storable strings, booleans, None, exact integers and finite floats: a
    tuple would come back as a list, NaN is not JSON, and a set or bytes cannot be written at all.
    """
    if depth > JSON_MAX_DEPTH:
        return f"must not nest deeper than {JSON_MAX_DEPTH} levels"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = text_problem(value)
        return f"must hold text that can be stored: a string {text}" if text else None
    if isinstance(value, int):
        ok = -JSON_INTEGER_LIMIT <= value <= JSON_INTEGER_LIMIT
        return None if ok else f"must hold integers within ±{JSON_INTEGER_LIMIT} (RFC 7493)"
    if isinstance(value, float):
        return None if math.isfinite(value) else "must hold finite numbers only (NaN and infinity are not JSON)"
    if isinstance(value, list):
        return next((p for item in value if (p := json_problem(item, depth + 1)) is not None), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "must have string keys only"
        keys = (p for key in value if (p := json_problem(key, depth + 1)) is not None)
        items = (p for item in value.values() if (p := json_problem(item, depth + 1)) is not None)
        return next(keys, None) or next(items, None)
    kind = type(value).__name__
    return f"must hold JSON values only (objects, arrays, strings, numbers, true, false, null), not {kind}"


_CHECKERS: dict[Kind, Callable[[str, Rules, object], list[Problem]]] = {
    Kind.STRING: _check_string,
    Kind.URI: _check_uri,
    Kind.INTEGER: _check_integer,
    Kind.BOOLEAN: _check_boolean,
    Kind.LIST: _check_list,
    Kind.URI_LIST: _check_list,
    Kind.JSON: _check_json,
}
