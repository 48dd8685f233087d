"""What every command shares on the way in: the settings of the root group, the store and its sessions, lookups by
the references a user types, and the parsing of values the model cannot check itself (numbers, JSON, stdin).

A value that breaks a rule is invalid input (ValidationError, exit 3), as the model would say it; click's own
errors (exit 2) are kept for unknown options and missing arguments.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import click
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from .._errors import NotFoundError, Problem, ValidationError
from .._store import Store
from ..models import Client, ServerDefinition
from ._failures import DatabaseUnusable

F = TypeVar("F", bound=Callable[..., Any])
#: The range of an SQL INTEGER column: the IDs and the integer properties of the store.
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
#: Deeper JSON than any document or metadata member oauth2store reads (an import document is about 8 levels).
JSON_DEPTH_MAX = 32


@dataclass
class Settings:
    """What the root group's options decide, shared by every subcommand."""

    url: str | None
    debug: bool
    _store: Store | None = None

    @property
    def store(self) -> Store:
        """The store, opened at first use (a command that fails before it needs one opens nothing)."""
        if self._store is None:
            self._store = _open_store(self.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _open_store(url: str | None) -> Store:
    """Store(url), with a URL that names no usable database said in one line (and without its password)."""
    try:
        return Store(url)
    except NoSuchModuleError as error:  # the URL parsed; SQLAlchemy knows no dialect of that name
        dialect = make_url(url).get_backend_name() if url else "?"
        raise DatabaseUnusable(f"no database dialect named {dialect!r} (--db)") from error
    except ArgumentError as error:
        raise DatabaseUnusable("--db is not a database URL (e.g. sqlite:///store.db)") from error
    except ImportError as error:
        shown = make_url(url).render_as_string(hide_password=True) if url else "the default database"
        raise DatabaseUnusable(f"no driver for {shown}: {error} (install it)") from error
    except OSError as error:  # the directory of a SQLite file cannot be created
        raise DatabaseUnusable(f"cannot create the database's directory ({error.strerror})") from error


pass_settings = click.make_pass_decorator(Settings)


@contextmanager
def session(settings: Settings, /, *, write: bool = False) -> Iterator[Session]:
    """A session of the store in one transaction (see Store.session)."""
    with settings.store.session(write=write) as db:
        yield db


def json_option(help: str = "JSON for scripts.") -> Callable[[F], F]:
    """The `--json` option of a command that prints something (its value is the `as_json` parameter)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


allow_insecure_http = click.option(
    "--allow-insecure-http", is_flag=True, help="Allow plain http to a non-loopback server (development only)."
)


def refuse_text_that_is_not_utf8(args: Sequence[str]) -> None:
    """Arguments arrive as str; bytes that were not UTF-8 arrive as lone surrogates (PEP 383), which no database
    driver and no terminal accepts: refuse them before anything reads them."""
    problems = [
        Problem(f"argument {number}", "is not valid UTF-8 text")
        for number, arg in enumerate(args, start=1)
        if not _is_utf8(arg)
    ]
    if problems:
        raise ValidationError("the command line", None, problems)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def open_server(db: Session, reference: str) -> ServerDefinition:
    """A server definition by ID (ASCII digits, within SQL INTEGER) or exact issuer."""
    identifier = int(reference) if reference.isascii() and reference.isdigit() else None
    server = ServerDefinition.Open(db, identifier) if identifier is not None and identifier <= INTEGER_MAX else None
    server = server or ServerDefinition.OpenByIssuer(db, reference)
    if server is None:
        raise NotFoundError("ServerDefinition", reference)
    return server


def open_client(db: Session, application_name: str) -> Client:
    client = Client.Open(db, application_name)
    if client is None:
        raise NotFoundError("Client", application_name)
    return client


def integer(text: str, problem: Callable[[str], ValidationError], *, minimum: int = INTEGER_MIN) -> int:
    """A whole number typed in ASCII digits, from `minimum` to the largest SQL INTEGER (the model checks the
    property's own lower bound; this keeps what no column can hold from reaching the database)."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise problem(f"must be an integer (got {text!r})")
    value = int(text)
    if not minimum <= value <= INTEGER_MAX:
        raise problem(f"must be from {minimum} to {INTEGER_MAX} (got {text})")
    return value


def read_stdin_line(problem: Callable[[str], ValidationError]) -> str:
    """One line of standard input, where secrets and tokens come from to stay out of argv and shell history."""
    try:
        return sys.stdin.readline().rstrip("\n")
    except UnicodeDecodeError:
        raise problem("standard input is not UTF-8 text") from None


def parse_json(text: str | bytes) -> object:
    """JSON text as Python values.

    Raises:
        json.JSONDecodeError: not JSON.
        ValueError: not UTF-8, or nested deeper than JSON_DEPTH_MAX (the message says which).
    """
    try:
        value = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        raise ValueError("is not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise ValueError(f"is nested too deeply (at most {JSON_DEPTH_MAX} levels)") from None
    if _depth(value) > JSON_DEPTH_MAX:
        raise ValueError(f"is nested too deeply (at most {JSON_DEPTH_MAX} levels)")
    return value


def _depth(value: object) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            pending += [(inner, level + 1) for inner in (item.values() if isinstance(item, dict) else item)]
    return deepest


def read_document(source: BinaryIO, kind: str) -> dict[str, Any]:
    """A JSON object from a file (an import document, a client document)."""
    try:
        document = parse_json(source.read())
    except ValueError as error:
        raise ValidationError(kind, None, [Problem("json", _json_problem(error))]) from None
    if not isinstance(document, dict):
        raise ValidationError(kind, None, [Problem("json", "must be an object")])
    return document


def _json_problem(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"is not valid JSON ({error.msg}, line {error.lineno})"
    return str(error)
