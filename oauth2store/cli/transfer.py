"""`oauth2store export` and `import`: the whole store as one JSON document (see oauth2store._documents).

A document with secrets holds every client secret and private key of the store: its file is created with mode
0600, and an existing file is never overwritten unless `--force`, which replaces it by a new file (so neither its
old content nor its old mode survives). The export is written as it is read (constant memory); the import prints
one summary line, the objects one by one only with `--verbose` or `--json`.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

import click

from .._documents import import_document, write_document
from .._documents.format import SECTIONS
from ._context import Settings, json_option, pass_settings, read_document, session
from ._output import emit_json

#: Imports with more objects than this show a progress bar on a terminal.
PROGRESS_THRESHOLD = 200


@click.command("export")
@click.option("--include-secrets", is_flag=True, help="Write secrets and private keys too (a file gets mode 0600).")
@click.option("--output", "-o", default="-", metavar="FILE", help="File to write (default: stdout); never replaced.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_settings
def export_command(settings: Settings, /, include_secrets: bool, output: str, force: bool) -> None:
    """Write the whole store as a JSON document, for `import` into another database."""
    with session(settings) as db:

        def export(write: Callable[[str], object]) -> None:
            write_document(db, write, include_secrets=include_secrets)
            write("\n")

        if output == "-":
            export(sys.stdout.write)
        else:
            write_new_file(Path(output), export, private=include_secrets, force=force)


def write_new_file(path: Path, fill: Callable[[Callable[[str], object]], None], *, private: bool, force: bool) -> None:
    """Create a new file at `path`, readable by its owner only when `private`, and `fill` it (given the write).

    The file is created with O_EXCL, so an existing file or link is never written through; with `force`, a new
    file beside it (created the same way) is renamed over it, atomically. If `fill` fails, no file is left.
    """
    target = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp") if force else path
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    except FileExistsError:
        raise click.BadParameter(f"{path} exists; add --force to replace it", param_hint="--output") from None
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from error
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as written:
            fill(written.write)
            written.flush()
            os.fsync(written.fileno())
        if target != path:
            os.replace(target, path)
    except OSError as error:
        target.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from error
    except BaseException:
        target.unlink(missing_ok=True)  # a half-written export is no export
        raise


@click.command("import")
@click.argument("document_file", type=click.File("rb"), metavar="FILE")
@click.option("--dry-run", is_flag=True, help="Check and report what would change, write nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Name every object created or updated.")
@json_option("Every object by outcome, and the counts by kind, as JSON.")
@pass_settings
def import_command(settings: Settings, /, document_file: BinaryIO, dry_run: bool, verbose: bool, as_json: bool) -> None:
    """Create or update everything a JSON document describes, all or nothing, in one transaction.

    Prints one summary line (created, updated, unchanged, by kind); a progress bar on a terminal.
    """
    document = read_document(document_file, "document")
    total = sum(len(items) for items in (document.get(s) for s in SECTIONS) if isinstance(items, list))
    hidden = total <= PROGRESS_THRESHOLD or not sys.stderr.isatty()
    # Each object is counted when it is checked and again when it is written (see import_document).
    progress = click.progressbar(length=2 * total, label="importing", file=sys.stderr, hidden=hidden)
    with session(settings) as db, progress as bar:
        report = import_document(db, document, progress=bar.update)
        if dry_run:
            db.rollback()  # checked and written: the report is exact, and nothing is kept
    if as_json:
        emit_json({"dry_run": dry_run, **asdict(report), "by_kind": report.by_kind()})
        return
    if verbose:
        prefix = "would be " if dry_run else ""
        for kind, labels in (("created", report.created), ("updated", report.updated)):
            for label in labels:
                click.echo(f"{prefix}{kind}: {label}")
    click.echo(("dry run: " if dry_run else "") + report.summary())
