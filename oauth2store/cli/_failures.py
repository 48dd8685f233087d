"""How a failed command ends: one line `error: ...` on stderr and an exit code from README's table.

oauth2store's own errors carry their exit code (`OAuth2StoreError.exit_code`); click's carry theirs (2 for usage).
This module says the same for what other layers raise: the database and its driver (a conflict with another
process, a database that cannot be used), files, and anything unexpected (named by its type only: its message might
hold anything, a secret included). `--debug` shows the traceback instead.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import DatabaseError, DataError, DBAPIError, IntegrityError, OperationalError

from .._errors import DuplicateError, OAuth2StoreError, ValidationError

#: SQLSTATEs of a transaction PostgreSQL gave up because of another one (serialization failure, deadlock).
_POSTGRES_CONFLICTS = frozenset({"40001", "40P01"})


class DatabaseUnusable(click.ClickException):
    """The database cannot be used at all: unreachable, not a database, read-only, or no driver for its URL."""

    exit_code = 9


class WriteConflict(click.ClickException):
    """Another process wrote the same objects at the same time; nothing was written, and running the command again
    settles it."""

    exit_code = DuplicateError.exit_code


class OutOfRange(click.ClickException):
    """A value the database cannot hold (a number beyond its column type)."""

    exit_code = ValidationError.exit_code


def report(error: Exception) -> int:
    """Print the one line that says what went wrong; return the exit code."""
    if isinstance(error, click.exceptions.Exit):
        return error.exit_code
    if isinstance(error, click.UsageError):
        command = error.ctx.command_path if error.ctx is not None else "oauth2store"
        click.echo(f"error: {error.format_message()} (see '{command} --help')", err=True)
        return error.exit_code
    if isinstance(error, click.Abort):
        click.echo("aborted", err=True)
        return 1
    known = error if isinstance(error, click.ClickException | OAuth2StoreError) else translate(error)
    if known is None:
        click.echo(f"error: unexpected {type(error).__name__}; run again with --debug for the traceback", err=True)
        return 1
    message = known.format_message() if isinstance(known, click.ClickException) else str(known)
    click.echo(f"error: {message}", err=True)
    return known.exit_code


def translate(error: Exception) -> click.ClickException | None:
    """The CLI's own error for a failure of another layer; None when it was not expected."""
    if isinstance(error, DBAPIError):
        return _database_failure(error)
    if isinstance(error, OverflowError):  # sqlite3 refuses an integer beyond 64 bits before sending it
        return OutOfRange(f"a number is too large for the database ({error})")
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return click.ClickException(f"{where}{error.strerror}")
    return None


def _database_failure(error: DBAPIError) -> click.ClickException:
    """Said with the driver's first line only: SQLAlchemy's own text adds the statement and its parameters."""
    detail = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if "database is locked" in detail:  # SQLite: a writer waited in vain, or read a snapshot another one changed
        return WriteConflict("another process wrote to the store at the same time; nothing was written, run again")
    if isinstance(error, IntegrityError) or sqlstate in _POSTGRES_CONFLICTS:
        return WriteConflict(
            f"another process changed the same objects at the same time ({detail}); nothing was written, run again"
        )
    if isinstance(error, DataError):
        return OutOfRange(f"a value does not fit the database ({detail})")
    if "readonly" in detail:
        return DatabaseUnusable(f"the database is read-only ({detail})")
    if "file is not a database" in detail:
        return DatabaseUnusable(f"--db is not a database ({detail})")
    if isinstance(error, OperationalError):
        return DatabaseUnusable(f"cannot reach or open the database ({detail})")
    if isinstance(error, DatabaseError):
        return DatabaseUnusable(f"the database failed ({detail})")
    return DatabaseUnusable(f"the database driver failed ({detail})")
