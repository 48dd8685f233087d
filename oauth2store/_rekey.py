"""Rekey: every stored secret re-encrypted with a new store key in one transaction, and the key file kept in step.

The transaction locks the key check, opens each secret with the old key and seals it with the new one, bound to the
same row, and seals the key check with the new key last. It reads the tables raw (every table with an
`EncryptedText` column, found in the models' metadata), so no object is loaded and no table is forgotten.

With a key file, the new key is staged beside it first (`<key file>.new`, mode 0600) and moved into place after the
commit. If the process stops in between, the staged file stays, and the Store's next key check settles it
(`settle_staged_key_file`): whichever of the two keys the database holds wins, so the file and the database never
disagree for a store that opens them. Kept apart from the Store, which only decides when to call it and which
cipher to use afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, select, table, update
from sqlalchemy import column as sql_column

from ._encryption import key_files
from ._encryption.cipher import Binding, SecretCipher, row_key
from ._encryption.columns import EncryptedText
from ._encryption.key_check import read_key_check, seal_key_check, verify
from ._errors import StoreKeyError
from ._sqlite import SQLITE_BEGIN_IMMEDIATE
from .models import Base
from .models.key_check import KEY_CHECK_ID, key_check


def staged_key_file(key_file: Path) -> Path:
    """Where a rekey stages the new key until its transaction has committed: `<key file>.new`."""
    return key_file.with_name(key_file.name + ".new")


def settle_staged_key_file(engine: Engine, key_file: Path) -> bool:
    """Finish or undo the rekey that left a staged key file; True when the staged key replaced `key_file`.

    Raises:
        StoreKeyError: the staged key is the database's, but its file is not private (kept, never deleted).
    """
    staged = staged_key_file(key_file)
    with engine.connect() as connection:
        verifier = read_key_check(connection)
    staged_cipher = SecretCipher(key_files.read_key_file(staged, check=False))
    try:
        if verifier is None:
            raise StoreKeyError("no key check")
        verify(staged_cipher, verifier)
    except StoreKeyError:
        staged.unlink(missing_ok=True)  # the rekey did not commit: the old key file is right
        return False
    key_files.check_key_file(staged)  # the database's key from now on: refused (never deleted) if not private
    key_files.replace_key_file(key_file, staged)  # the rekey committed: finish it
    return True


def rekey_database(
    engine: Engine,
    old: SecretCipher,
    new: SecretCipher,
    new_key: str | bytes,
    *,
    key_file: Path | None,
    outcome_unknown: Callable[[], None],
) -> None:
    """Re-encrypt every stored secret from `old` to `new` (the cipher of `new_key`), in one transaction.

    With a `key_file`, `new_key` is staged beside it first and replaces it after the commit. `outcome_unknown` is
    called when the transaction fails after COMMIT was sent: the staged file is kept for the next key check.

    Raises:
        StoreKeyError: `old` is not the database's key, or the database has no key check yet; nothing is changed.
    """
    staged: Path | None = None
    if key_file is not None:
        staged = staged_key_file(key_file)
        staged.unlink(missing_ok=True)
        key_files.write_key_file(staged, new_key.decode("ascii") if isinstance(new_key, bytes) else new_key.strip())
    committing = False
    try:
        with engine.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True}).begin() as connection:
            verifier = read_key_check(connection, lock=True)
            if verifier is None:
                raise StoreKeyError("the database has no key check; open a session first")
            verify(old, verifier)
            for secret_table, key_columns, secret_columns in _secret_columns():
                _reencrypt(connection, secret_table, key_columns, secret_columns, old, new)
            connection.execute(
                update(key_check).where(key_check.c.ID == KEY_CHECK_ID).values(Verifier=seal_key_check(new))
            )
            committing = True
    except BaseException:
        # Before COMMIT was sent the staged key is worthless; after, the outcome is unknown (e.g. a lost
        # connection) and the staged file is kept for check_key to settle against the database.
        if staged is not None and not committing:
            staged.unlink(missing_ok=True)
        if committing:
            outcome_unknown()
        raise
    if key_file is not None and staged is not None:
        key_files.replace_key_file(key_file, staged)


def _secret_columns() -> list[tuple[Table, list[str], list[str]]]:
    """Every table with encrypted columns: (table, primary key column names, encrypted column names)."""
    found = []
    for mapped in Base.metadata.sorted_tables:
        encrypted = [c.name for c in mapped.columns if isinstance(c.type, EncryptedText)]
        if encrypted:
            found.append((mapped, [c.name for c in mapped.primary_key.columns], encrypted))
    return found


def _reencrypt(
    connection: Connection,
    mapped: Table,
    key_columns: list[str],
    secret_columns: list[str],
    old: SecretCipher,
    new: SecretCipher,
) -> None:
    """Open with `old` and seal with `new` every value of the columns, bound to the same rows, read raw."""
    raw = table(mapped.name, *(sql_column(name) for name in key_columns + secret_columns))
    for row in connection.execute(select(raw)).mappings().all():
        key = row_key(row[name] for name in key_columns)
        assert key is not None  # a stored row has its whole primary key
        values = {}
        for name in secret_columns:
            if row[name] is not None:
                binding = Binding(mapped.name, name, key)
                values[name] = new.seal(old.unseal(row[name], binding), binding)
        if values:
            condition = [raw.c[name] == row[name] for name in key_columns]
            connection.execute(update(raw).where(*condition).values(**values))
