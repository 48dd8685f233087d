"""Secrets at rest: every column declared `secret=True` holds its value sealed to its place, never the plaintext.

A sealed value is AES-256-GCM ciphertext whose associated data names its table, column and row, so a value copied
to another place, or tampered with, fails to open (`StoreKeyError`) instead of decrypting. The AES key is derived
from the store key, one printable string kept in `$OAUTH2STORE_KEY`, given to the Store, or in a key file.

One concept per module, and every import points down (the "encryption" contract in pyproject.toml):

- `events`: the ORM's flush and load events, which know each object's row and say where its secrets belong;
- `columns`: the `EncryptedText` column type, which seals and opens what the events hand it;
- `registry`: which store key each engine uses (`register_store_key`, `$OAUTH2STORE_KEY`);
- `key_check`: the row telling the database's key from a wrong one;
- `key_files`: key files on disk (0600, atomic, refused when others can read them);
- `cipher`: the store key, the sealed-value format and `Binding`, the place a value is sealed to.

A package rather than one module because these change for different reasons: the format with the migrations, the
events with SQLAlchemy's ORM, the key files with POSIX. Nothing is re-exported here: callers import a name from
the module that owns it, so using key files (the CLI) does not load the ORM events, and a reader sees the owner.
"""
