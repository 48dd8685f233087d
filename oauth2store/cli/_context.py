"""What every command shares on the way in: the settings of the root group, the store and its sessions, lookups by
the references a user types, and the parsing of values the model cannot check itself (numbers).

A value that breaks a rule is invalid input (ValidationError, exit 3), as the model would say it; click's own
errors (exit 2) are kept for unknown options and missing arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from .._errors import NotFoundError, ValidationError
from .._store import Store
from ..models import Client, ServerDefinition

F = TypeVar("F", bound=Callable[..., Any])
#: The range of an SQL INTEGER column: the IDs and the integer properties of the store.
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1


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
            self._store = Store(self.url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


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


def open_server(db: Session, reference: str) -> ServerDefinition:
    """A server definition by integer ID or exact issuer."""
    server = ServerDefinition.Open(db, int(reference)) if reference.isdigit() else None
    server = server or ServerDefinition.OpenByIssuer(db, reference)
    if server is None:
        raise NotFoundError("ServerDefinition", reference)
    return server


def open_client(db: Session, application_name: str) -> Client:
    client = Client.Open(db, application_name)
    if client is None:
        raise NotFoundError("Client", application_name)
    return client


def secret_value(value: str | None) -> str | None:
    """A secret option's value; `-` reads it from standard input, so it stays out of shell history."""
    if value == "-":
        return sys.stdin.readline().rstrip("\n")
    return value


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
