"""Secrets bound to their place: the Fernet tokens of 0002 become AES-256-GCM values bound to table, column and row.

A Fernet token decrypts wherever it is copied; a sealed value (oauth2store._encryption) names its table, column and
row's primary key as associated data, so one moved elsewhere is refused. The key check is sealed to its row too.
Downgrade turns them back into Fernet tokens. Both need the key when anything is stored (as 0002 does).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from oauth2store._encryption.cipher import SEALED_PREFIX, Binding, SecretCipher, row_key
from oauth2store._encryption.registry import missing_key, registered_cipher

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every encrypted column at this revision: table -> (primary key columns, encrypted columns).
ENCRYPTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OAuth2_SSLConfiguration": (("Name",), ("PrivateKey", "PrivateKeyPassword")),
    "OAuth2_X509Credentials": (("Alias",), ("PrivateKey", "PrivateKeyPassword")),
    "OAuth2_ServerDefinition": (("ID",), ("InitialAccessToken",)),
    "OAuth2_Client": (("ApplicationName",), ("ClientSecret", "ClientPassword")),
    "OAuth2_Client_Metadata": (("ApplicationName",), ("registration_access_token",)),
    "OAuth2_AccessToken": (("ID",), ("AccessToken", "RefreshToken", "IDToken")),
    "OAuth2_ClientKey": (("ID",), ("PrivateJWK",)),
    "OAuth2_KeyCheck": (("ID",), ("Verifier",)),
}


def _transform(change: Callable[[SecretCipher, str, Binding], str]) -> None:
    """Apply `change(cipher, value, binding)` to every stored value; the key is needed only if there is one."""
    bind = op.get_bind()
    cipher: SecretCipher | None = None
    for name, (keys, columns) in ENCRYPTED.items():
        raw = sa.table(name, *(sa.column(c) for c in keys + columns))
        for row in bind.execute(sa.select(raw)).mappings().all():
            key = row_key(row[k] for k in keys)
            assert key is not None  # primary key columns are NOT NULL
            values = {}
            for column in columns:
                if row[column] is None:
                    continue
                if cipher is None:
                    cipher = registered_cipher(bind.dialect)
                    if cipher is None:
                        raise missing_key()
                values[column] = change(cipher, row[column], Binding(name, column, key))
            if values:
                bind.execute(sa.update(raw).where(*(raw.c[k] == row[k] for k in keys)).values(**values))


def _seal(cipher: SecretCipher, value: str, binding: Binding) -> str:
    if value.startswith(SEALED_PREFIX):
        cipher.unseal(value, binding)  # already sealed (a key check stored by this version): it must open
        return value
    return cipher.seal(cipher.decrypt(value, str(binding)), binding)


def _unseal(cipher: SecretCipher, value: str, binding: Binding) -> str:
    if not value.startswith(SEALED_PREFIX):
        cipher.decrypt(value, str(binding))  # already a Fernet token: it must open
        return value
    return cipher.encrypt(cipher.unseal(value, binding))


def upgrade() -> None:
    _transform(_seal)


def downgrade() -> None:
    _transform(_unseal)
