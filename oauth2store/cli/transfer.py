"""`oauth2store export` and `import`: the whole store as one JSON document (see oauth2store._documents)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from .._documents import ImportReport, export_document, import_document
from .._errors import Problem, ValidationError
from ._context import Settings, pass_settings, session

#: Imports with more objects than this show a progress bar on a terminal.
PROGRESS_THRESHOLD = 200
_SECTIONS = ("ssl_configurations", "x509_credentials", "servers", "clients")


@click.command("export")
@click.option("--include-secrets", is_flag=True, help="Write secrets too (keep the file safe).")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default: stdout).")
@pass_settings
def export_command(settings: Settings, /, include_secrets: bool, output: TextIO) -> None:
    """Write the whole store as a JSON document, for `import` into another database."""
    with session(settings) as db:
        document = export_document(db, include_secrets=include_secrets)
    json.dump(document, output, indent=2)
    output.write("\n")


class _DryRunDoneError(Exception):
    """Rolls the import's transaction back after it was checked."""


@click.command("import")
@click.argument("document_file", type=click.File("r"), metavar="FILE")
@click.option("--dry-run", is_flag=True, help="Check and report what would change, write nothing.")
@pass_settings
def import_command(settings: Settings, /, document_file: TextIO, dry_run: bool) -> None:
    """Create or update everything a JSON document describes, all or nothing, in one transaction."""
    try:
        document = json.load(document_file)
    except json.JSONDecodeError as error:
        problem = Problem("json", f"is not valid JSON ({error.msg}, line {error.lineno})")
        raise ValidationError("document", None, [problem]) from error
    total = sum(len(document.get(s) or []) for s in _SECTIONS) if isinstance(document, dict) else 0
    hidden = total <= PROGRESS_THRESHOLD or not sys.stderr.isatty()
    progress = click.progressbar(length=total, label="importing", file=sys.stderr, hidden=hidden)
    report = ImportReport()
    try:
        with session(settings) as db, progress as bar:
            report = import_document(db, document, progress=bar.update)
            if dry_run:
                raise _DryRunDoneError
    except _DryRunDoneError:
        pass
    prefix = "would be " if dry_run else ""
    for kind, labels in (("created", report.created), ("updated", report.updated)):
        for label in labels:
            click.echo(f"{prefix}{kind}: {label}")
    click.echo(("dry run: " if dry_run else "") + report.summary())
