"""Signing users in: the IRIS OAuth2.AccessToken columns the authorization code flow needs, and three server
metadata members.

OAuth2_AccessToken gains IRIS's Stage, CodeVerifier (encrypted like every secret), RedirectURL, LogoutState and
LogoutRedirectURL, plus StateHash (the digest of the pending request's state, indexed: the callback finds its row by
it, and no plaintext state is stored; LogoutState likewise holds a digest), RequestedAt and LogoutRequestedAt (when a
pending request or logout expires) and RequestParameters (what the callback checks against what was sent).
OAuth2_Server_Metadata gains pushed_authorization_request_endpoint, require_pushed_authorization_requests (RFC 9126)
and authorization_response_iss_parameter_supported (RFC 9207).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOKENS = "OAuth2_AccessToken"
_SERVER_METADATA = "OAuth2_Server_Metadata"


def upgrade() -> None:
    # ADD COLUMN only (never a table rebuild: on SQLite that would cascade-delete the rows referencing the table).
    # SQLite cannot add a CHECK to a table without rebuilding it: there Stage's VALUELIST is checked by validation
    # (before every flush) only, as on any database the ORM writes.
    checked = op.get_bind().dialect.name != "sqlite"
    with op.batch_alter_table(_TOKENS, recreate="never") as batch:
        batch.add_column(sa.Column("StateHash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column(
                "Stage",
                sa.Enum("new", "loggedin", name="Stage", native_enum=False, create_constraint=checked),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("CodeVerifier", sa.Text(), nullable=True))
        batch.add_column(sa.Column("RedirectURL", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("RequestedAt", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("RequestParameters", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("LogoutState", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("LogoutRedirectURL", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("LogoutRequestedAt", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_OAuth2_AccessToken_StateHash", _TOKENS, ["StateHash"])
    op.create_index("ix_OAuth2_AccessToken_LogoutState", _TOKENS, ["LogoutState"])
    with op.batch_alter_table(_SERVER_METADATA, recreate="never") as batch:
        batch.add_column(sa.Column("pushed_authorization_request_endpoint", sa.Text(), nullable=True))
        batch.add_column(sa.Column("require_pushed_authorization_requests", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("authorization_response_iss_parameter_supported", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(_SERVER_METADATA, recreate="never") as batch:
        batch.drop_column("authorization_response_iss_parameter_supported")
        batch.drop_column("require_pushed_authorization_requests")
        batch.drop_column("pushed_authorization_request_endpoint")
    op.drop_index("ix_OAuth2_AccessToken_LogoutState", _TOKENS)
    op.drop_index("ix_OAuth2_AccessToken_StateHash", _TOKENS)
    with op.batch_alter_table(_TOKENS, recreate="never") as batch:
        for name in (
            "LogoutRequestedAt",
            "LogoutRedirectURL",
            "LogoutState",
            "RequestParameters",
            "RequestedAt",
            "RedirectURL",
            "CodeVerifier",
            "Stage",
            "StateHash",
        ):
            batch.drop_column(name)
