"""Key files: a store key in a file of its own, private (mode 0600), written atomically, checked when read.

A key file others could read or replace is refused, as ssh refuses such private keys. A SQLite database given no
key keeps its key beside it (`<database>.key`), created at first use; `oauth2store db rekey --generate --save-key`
writes one too. The file keeps the secrets unreadable in a copy of the database alone; it does not protect them
from anyone who can read the key file as well.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

from .._errors import StoreKeyError
from .cipher import generate_store_key


def key_file_for(database: Path) -> Path:
    """Where the key of a SQLite database file lives when no key is configured: beside it, `<database>.key`."""
    return database.with_name(database.name + ".key")


def write_key_file(path: Path, key: str) -> None:
    """Write `key` to `path` readable by the owner only (0600), atomically: the file appears whole or not at all.

    Raises FileExistsError when `path` exists (another process won the race to create it).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # fails if the file exists, unlike rename
    finally:
        temporary.unlink(missing_ok=True)
    sync_directory(path.parent)


def replace_key_file(path: Path, staged: Path) -> None:
    """Atomically put the staged key file in place of `path`."""
    os.replace(staged, path)
    sync_directory(path.parent)


def read_key_file(path: Path, *, check: bool = True) -> str:
    """The key in `path`; with `check`, only from a private file of this user's (see check_key_file)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _symlink_refused(path) from None
        raise
    with os.fdopen(descriptor, encoding="ascii") as handle:
        if check:
            _check_key_file_status(path, os.fstat(handle.fileno()))
        return handle.read().strip()


def check_key_file(path: Path) -> None:
    """Refuse a key file others could read or replace, as ssh refuses such private keys.

    Raises:
        StoreKeyError: naming the fix: it is a symbolic link, not this user's, or readable or writable by others.
    """
    status = path.lstat()
    if stat.S_ISLNK(status.st_mode):
        raise _symlink_refused(path)
    _check_key_file_status(path, status)


def _check_key_file_status(path: Path, status: os.stat_result) -> None:
    if not hasattr(os, "geteuid"):
        return  # no POSIX owner and mode bits to check
    if not stat.S_ISREG(status.st_mode):
        raise StoreKeyError(f"the key file {path} is not a regular file")
    user = os.geteuid()
    if status.st_uid != user:
        raise StoreKeyError(
            f"the key file {path} is owned by user id {status.st_uid}, not by this user ({user}): "
            f"chown {user} {path}, or run as its owner"
        )
    if status.st_mode & 0o077:
        raise StoreKeyError(
            f"the key file {path} is open to other users (mode {stat.S_IMODE(status.st_mode):04o}): chmod 600 {path}"
        )


def _symlink_refused(path: Path) -> StoreKeyError:
    return StoreKeyError(
        f"the key file {path} is a symbolic link, which could point anywhere: replace it with the file itself"
    )


def load_or_create_key_file(path: Path) -> str:
    """The key in `path`, creating the file with a new key (mode 0600) at first use."""
    try:
        return read_key_file(path)
    except FileNotFoundError:
        pass
    key = generate_store_key()
    try:
        write_key_file(path, key)
    except FileExistsError:
        return read_key_file(path)
    return key


def sync_directory(directory: Path) -> None:
    """Make a rename or link in `directory` durable (POSIX)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
