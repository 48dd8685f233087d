"""Renewal without holding the store: a definition version on clients and tokens, and a renewal row per token key.

`OAuth2_Client.DefinitionVersion` changes with every change to a client's definition (its own columns, its
metadata, its server, TLS configuration or credentials), so every process can tell, with one small query, that the
definition it holds is out of date; a stored token records the version it was obtained under and is never handed
out for another. `OAuth2_TokenRenewal` holds, per (ApplicationName, SessionId), who is renewing (a lease with an
expiry) and the last failed renewal (its error and when to try again), so processes share both.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN (never a table rebuild: dropping OAuth2_Client on SQLite would cascade to every row naming it).
    with op.batch_alter_table("OAuth2_Client", recreate="never") as batch:
        batch.add_column(sa.Column("DefinitionVersion", sa.String(length=32), nullable=False, server_default="0"))
    with op.batch_alter_table("OAuth2_AccessToken", recreate="never") as batch:
        batch.add_column(sa.Column("DefinitionVersion", sa.String(length=32), nullable=True))
    op.create_table(
        "OAuth2_TokenRenewal",
        sa.Column(
            "ApplicationName",
            sa.String(length=128),
            sa.ForeignKey("OAuth2_Client.ApplicationName", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("SessionId", sa.String(length=256), primary_key=True),
        sa.Column("LeaseOwner", sa.String(length=64), nullable=True),
        sa.Column("LeaseExpires", sa.Float(), nullable=True),
        sa.Column("Failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("Failure", sa.JSON(), nullable=True),
        sa.Column("FailureVersion", sa.String(length=32), nullable=True),
        sa.Column("RetryAfter", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("OAuth2_TokenRenewal")
    with op.batch_alter_table("OAuth2_AccessToken", recreate="never") as batch:
        batch.drop_column("DefinitionVersion")
    with op.batch_alter_table("OAuth2_Client", recreate="never") as batch:
        batch.drop_column("DefinitionVersion")
