"""The first key check on a new SQLite database waits for another process's write instead of failing.

Found by examples/service_tokens.py: worker processes opening a freshly migrated database together each store the
key check; a read transaction that then writes fails at once on SQLite ("database is locked") when another
connection wrote in between, so the check must take the write lock up front.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from oauth2store import Store, generate_store_key


def test_first_key_check_waits_for_a_concurrent_writer(tmp_path: Path) -> None:
    database = tmp_path / "race.db"
    key = generate_store_key()
    with Store(f"sqlite:///{database}", key=key) as setup:
        setup.upgrade()  # migrated, but no key check stored yet
    writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute('UPDATE "OAuth2_SSLConfiguration" SET "Description" = ? WHERE "Name" = ?', ("touched", "default"))
    # The writer commits while the check waits for the lock: a check that had read first would then fail.
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        with Store(f"sqlite:///{database}", key=key) as store:
            store.check_key()
            with store.session() as session:
                assert session.connection().exec_driver_sql('SELECT COUNT(*) FROM "OAuth2_KeyCheck"').scalar() == 1
    finally:
        release.join()
        writer.close()
