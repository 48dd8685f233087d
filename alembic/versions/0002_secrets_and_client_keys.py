"""Secrets encrypted at rest, the key check, and the client's own key pairs.

Secret columns become TEXT (a Fernet token is longer than its plaintext: MAXLEN rules stay on the plaintext) and
stored plaintext secrets are encrypted with the store's key; downgrade decrypts them again. Both need the key when
secrets are stored (oauth2store registers it on the engine that runs the migration, or `$OAUTH2STORE_KEY`).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from oauth2store._encryption.cipher import SecretCipher
from oauth2store._encryption.registry import missing_key, registered_cipher
from oauth2store._errors import StoreKeyError

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every secret column at this revision: table -> (primary key columns, secret columns).
SECRETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OAuth2_SSLConfiguration": (("Name",), ("PrivateKey", "PrivateKeyPassword")),
    "OAuth2_X509Credentials": (("Alias",), ("PrivateKey", "PrivateKeyPassword")),
    "OAuth2_ServerDefinition": (("ID",), ("InitialAccessToken",)),
    "OAuth2_Client": (("ApplicationName",), ("ClientSecret", "ClientPassword")),
    "OAuth2_Client_Metadata": (("ApplicationName",), ("registration_access_token",)),
    "OAuth2_AccessToken": (("ID",), ("AccessToken", "RefreshToken", "IDToken")),
}
#: The secret columns that 0001 declared VARCHAR(128).
WIDENED = {
    "OAuth2_SSLConfiguration": "PrivateKeyPassword",
    "OAuth2_X509Credentials": "PrivateKeyPassword",
    "OAuth2_Client": "ClientPassword",
}


def _transform(change: Callable[[SecretCipher, str, str], str]) -> None:
    """Apply `change(cipher, value, where)` to every stored secret value; the key is needed only if there is one."""
    bind = op.get_bind()
    cipher: SecretCipher | None = None
    for name, (keys, secrets) in SECRETS.items():
        raw = sa.table(name, *(sa.column(c) for c in keys + secrets))
        for row in bind.execute(sa.select(raw)).mappings().all():
            values = {}
            for column in secrets:
                if row[column] is None:
                    continue
                if cipher is None:
                    cipher = registered_cipher(bind.dialect)
                    if cipher is None:
                        raise missing_key()
                values[column] = change(cipher, row[column], f"{name}.{column}")
            if values:
                bind.execute(sa.update(raw).where(*(raw.c[k] == row[k] for k in keys)).values(**values))


def _encrypt(cipher: SecretCipher, value: str, where: str) -> str:
    try:
        cipher.decrypt(value, where)
    except StoreKeyError:
        return cipher.encrypt(value)
    return value  # already encrypted with this key (a re-run after a partial manual migration)


def _decrypt(cipher: SecretCipher, value: str, where: str) -> str:
    return cipher.decrypt(value, where)


def upgrade() -> None:
    op.create_table(
        "OAuth2_KeyCheck",
        sa.Column("ID", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("Verifier", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ID", name=op.f("pk_OAuth2_KeyCheck")),
    )
    op.create_table(
        "OAuth2_ClientKey",
        sa.Column("ID", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ApplicationName", sa.String(length=128), nullable=False),
        sa.Column("Kid", sa.String(length=64), nullable=False),
        sa.Column(
            "Use",
            sa.Enum("enc", "sig", name="Use", native_enum=False, create_constraint=True, length=3),
            nullable=False,
        ),
        sa.Column("Alg", sa.String(length=16), nullable=False),
        sa.Column("PrivateJWK", sa.Text(), nullable=False),
        sa.Column("PublicJWK", sa.JSON(), nullable=False),
        sa.Column("Created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ActiveFrom", sa.DateTime(timezone=True), nullable=False),
        sa.Column("Retention", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ApplicationName"],
            ["OAuth2_Client.ApplicationName"],
            name=op.f("fk_OAuth2_ClientKey_ApplicationName_OAuth2_Client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ID", name=op.f("pk_OAuth2_ClientKey")),
        sa.UniqueConstraint("ApplicationName", "Kid", name=op.f("uq_OAuth2_ClientKey_ApplicationName")),
    )
    with op.batch_alter_table("OAuth2_ClientKey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_OAuth2_ClientKey_ApplicationName"), ["ApplicationName"], unique=False)
    for name, column in WIDENED.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=128), type_=sa.Text(), existing_nullable=True)
    _transform(_encrypt)


def downgrade() -> None:
    _transform(_decrypt)
    for name, column in WIDENED.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=128), existing_nullable=True)
    with op.batch_alter_table("OAuth2_ClientKey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_OAuth2_ClientKey_ApplicationName"))
    op.drop_table("OAuth2_ClientKey")
    op.drop_table("OAuth2_KeyCheck")
