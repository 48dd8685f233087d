"""`oauth2store db`: the store's schema (alembic migrations) and the key its secrets are encrypted with."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import click

from .._encryption.cipher import SecretCipher, generate_store_key
from .._encryption.key_check import check_key
from .._encryption.key_files import write_key_file
from .._encryption.registry import KEY_VARIABLE
from .._errors import StoreKeyError
from .._migrations import head_revision
from .._store import Store
from ._context import Settings, pass_settings


@click.group()
def db() -> None:
    """Create and migrate the store's schema; re-encrypt its secrets with a new key."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_settings
def db_upgrade(settings: Settings, /, revision: str) -> None:
    """Create or migrate the schema up to REVISION (default: the newest)."""
    settings.store.upgrade(revision)
    click.echo(f"schema at revision {settings.store.current_revision()}")


@db.command("downgrade")
@click.argument("revision")
@pass_settings
def db_downgrade(settings: Settings, /, revision: str) -> None:
    """Migrate the schema down to REVISION ("base" drops every oauth2store table)."""
    settings.store.downgrade(revision)
    click.echo(f"schema at revision {settings.store.current_revision() or 'base'}")


@db.command("current")
@pass_settings
def db_current(settings: Settings, /) -> None:
    """Show the schema revision of the database and the one this version needs."""
    current = settings.store.current_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head_revision()}")


@db.command("rekey")
@click.option(
    "--new-key-file",
    type=click.File("r"),
    metavar="FILE",
    help="Read the new key from FILE (- for standard input). Never give a key as an argument: argv is visible "
    "to every user of the machine and lands in shell history.",
)
@click.option("--generate", is_flag=True, help="Generate a new key (see oauth2store.generate_store_key).")
@click.option(
    "--save-key",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --generate: write the new key to FILE (created with mode 0600; it must not exist). Required when "
    "the store's key is not in a key file beside a SQLite database.",
)
@pass_settings
def db_rekey(settings: Settings, /, new_key_file: TextIO | None, generate: bool, save_key: Path | None) -> None:
    """Re-encrypt every stored secret with a new key, in one transaction (Store.rekey).

    With a key file beside a SQLite database, the new key replaces it there. With $OAUTH2STORE_KEY, put the new
    key there afterwards and restart every process that uses the database.
    """
    if (new_key_file is None) == (not generate):
        raise click.UsageError("give exactly one of --new-key-file FILE and --generate")
    if save_key is not None and not generate:
        raise click.UsageError("--save-key goes with --generate (the key in --new-key-file is already saved)")
    store = settings.store
    if generate:
        new_key = _generated_key(store, save_key)
    else:
        assert new_key_file is not None
        new_key = _read_key(new_key_file)
    try:
        store.rekey(new_key)
    except BaseException:
        if save_key is not None and _holds_another_key(store, new_key):
            save_key.unlink(missing_ok=True)  # the database kept the old key: the new one is worthless
        raise
    where = " and ".join(str(path) for path in (store.key_file, save_key) if path is not None)
    click.echo("re-encrypted every stored secret with the new key" + (f", now in {where}" if where else ""))
    if store.key_file is None:
        click.echo(f"set ${KEY_VARIABLE} to the new key and restart every process that uses this database")


def _generated_key(store: Store, save_key: Path | None) -> str:
    """A new key, saved to `save_key` first when given (a key kept nowhere would lose every secret)."""
    if save_key is None and store.key_file is None:
        raise click.UsageError(
            f"this store's key does not come from a key file: add --save-key FILE so the new key is kept "
            f"somewhere (then set ${KEY_VARIABLE} from it)"
        )
    new_key = generate_store_key()
    if save_key is not None:
        try:
            write_key_file(save_key, new_key)
        except FileExistsError:
            raise click.BadParameter(f"{save_key} exists; it is never overwritten", param_hint="--save-key") from None
    return new_key


def _read_key(source: TextIO) -> str:
    try:
        new_key = source.read().strip()
    except UnicodeDecodeError:
        raise StoreKeyError("the new key file is not a key (not text)") from None
    if not new_key:
        raise StoreKeyError("the new key file is empty")
    return new_key


def _holds_another_key(store: Store, key: str) -> bool:
    """True only when the database is known not to use `key` (a failed rekey whose commit may have happened must
    never lose the key the database now needs)."""
    try:
        check_key(store.engine, SecretCipher(key))
    except StoreKeyError:
        return True
    except Exception:
        return False  # unreachable: keep the key, the next session settles it
    return False
