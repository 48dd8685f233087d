"""The server JWKS cache: its expiry (IRIS -1 / 0 / epoch convention), HTTP validator and last good fetch.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("OAuth2_ServerDefinition") as batch:
        batch.add_column(sa.Column("PublicJWKSExpires", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("PublicJWKSETag", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("PublicJWKSFetched", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("OAuth2_ServerDefinition") as batch:
        batch.drop_column("PublicJWKSFetched")
        batch.drop_column("PublicJWKSETag")
        batch.drop_column("PublicJWKSExpires")
