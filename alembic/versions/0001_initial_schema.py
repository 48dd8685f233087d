"""Initial schema: the IRIS OAuth2 client model, with the "default" TLS configuration.

Revision ID: 0001
Revises: (none)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNING = ("RS256", "RS384", "RS512", "HS256", "HS384", "HS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
KEY_MANAGEMENT = ("none", "RSA1_5", "RSA-OAEP", "A128KW", "A192KW", "A256KW", "dir")
CONTENT_ENCRYPTION = ("none", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512")


def _algorithm(name: str, values: tuple[str, ...]) -> sa.Column[str]:
    """A client metadata algorithm member: a VARCHAR with a named CHECK of its VALUELIST."""
    return sa.Column(name, sa.Enum(*values, name=name, native_enum=False, create_constraint=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "OAuth2_SSLConfiguration",
        sa.Column("Name", sa.String(length=64), nullable=False),
        sa.Column("Description", sa.String(length=256), nullable=True),
        sa.Column("Enabled", sa.Boolean(), nullable=False),
        sa.Column("VerifyPeer", sa.Boolean(), nullable=False),
        sa.Column("CertificateAuthorities", sa.Text(), nullable=True),
        sa.Column("Certificate", sa.Text(), nullable=True),
        sa.Column("PrivateKey", sa.Text(), nullable=True),
        sa.Column("PrivateKeyPassword", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("Name", name=op.f("pk_OAuth2_SSLConfiguration")),
    )
    # What a client or server definition uses unless told otherwise: verify peers against the system CA store.
    ssl_configurations = sa.table(
        "OAuth2_SSLConfiguration",
        sa.column("Name", sa.String),
        sa.column("Description", sa.String),
        sa.column("Enabled", sa.Boolean),
        sa.column("VerifyPeer", sa.Boolean),
    )
    op.bulk_insert(
        ssl_configurations,
        [
            {
                "Name": "default",
                "Description": "Verify servers against the system CA store",
                "Enabled": True,
                "VerifyPeer": True,
            }
        ],
    )
    op.create_table(
        "OAuth2_X509Credentials",
        sa.Column("Alias", sa.String(length=64), nullable=False),
        sa.Column("Certificate", sa.Text(), nullable=False),
        sa.Column("PrivateKey", sa.Text(), nullable=True),
        sa.Column("PrivateKeyPassword", sa.String(length=128), nullable=True),
        sa.Column("Description", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("Alias", name=op.f("pk_OAuth2_X509Credentials")),
    )
    op.create_table(
        "OAuth2_ServerDefinition",
        sa.Column("ID", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("IssuerEndpoint", sa.String(length=1024), nullable=False),
        sa.Column("SSLConfiguration", sa.String(length=64), nullable=False),
        sa.Column("InitialAccessToken", sa.Text(), nullable=True),
        sa.Column("ServerCredentials", sa.String(length=64), nullable=True),
        sa.Column("IsDiscovery", sa.Boolean(), nullable=False),
        sa.Column("PublicJWKS", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["SSLConfiguration"],
            ["OAuth2_SSLConfiguration.Name"],
            name=op.f("fk_OAuth2_ServerDefinition_SSLConfiguration_OAuth2_SSLConfiguration"),
        ),
        sa.ForeignKeyConstraint(
            ["ServerCredentials"],
            ["OAuth2_X509Credentials.Alias"],
            name=op.f("fk_OAuth2_ServerDefinition_ServerCredentials_OAuth2_X509Credentials"),
        ),
        sa.PrimaryKeyConstraint("ID", name=op.f("pk_OAuth2_ServerDefinition")),
        sa.UniqueConstraint("IssuerEndpoint", name=op.f("uq_OAuth2_ServerDefinition_IssuerEndpoint")),
    )
    op.create_table(
        "OAuth2_Client",
        sa.Column("ApplicationName", sa.String(length=128), nullable=False),
        sa.Column(
            "ClientType",
            sa.Enum(
                "public",
                "confidential",
                "resource",
                name="ClientType",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("ClientId", sa.Text(), nullable=True),
        sa.Column("ClientSecret", sa.Text(), nullable=True),
        sa.Column("ClientCredentials", sa.String(length=64), nullable=True),
        sa.Column("ClientPassword", sa.String(length=128), nullable=True),
        sa.Column("DefaultScope", sa.Text(), nullable=True),
        sa.Column("Description", sa.String(length=256), nullable=True),
        sa.Column("Enabled", sa.Boolean(), nullable=False),
        sa.Column("AcceptNonStandardImplicitIdToken", sa.Boolean(), nullable=False),
        sa.Column("JWTAudience", sa.String(length=256), nullable=True),
        sa.Column("JWTInterval", sa.Integer(), nullable=False),
        sa.Column("SSLConfiguration", sa.String(length=64), nullable=False),
        sa.Column("ServerDefinition", sa.Integer(), nullable=False),
        sa.Column("RedirectionEndpoint_Host", sa.Text(), nullable=True),
        sa.Column("RedirectionEndpoint_Port", sa.Integer(), nullable=True),
        sa.Column("RedirectionEndpoint_Prefix", sa.Text(), nullable=True),
        sa.Column("RedirectionEndpoint_UseSSL", sa.Boolean(), nullable=True),
        sa.Column(
            "AuthenticationType",
            sa.Enum(
                "none",
                "basic",
                "body",
                "client_secret_jwt",
                "private_key_jwt",
                name="AuthenticationType",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "SigningAlgorithm",
            sa.Enum("RS256", "RS384", "RS512", name="SigningAlgorithm", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column(
            "EncryptionAlgorithm",
            sa.Enum(
                "A128CBC-HS256",
                "A192CBC-HS384",
                "A256CBC-HS512",
                name="EncryptionAlgorithm",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "KeyAlgorithm",
            sa.Enum("RSA1_5", "RSA-OAEP", name="KeyAlgorithm", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["ClientCredentials"],
            ["OAuth2_X509Credentials.Alias"],
            name=op.f("fk_OAuth2_Client_ClientCredentials_OAuth2_X509Credentials"),
        ),
        sa.ForeignKeyConstraint(
            ["SSLConfiguration"],
            ["OAuth2_SSLConfiguration.Name"],
            name=op.f("fk_OAuth2_Client_SSLConfiguration_OAuth2_SSLConfiguration"),
        ),
        sa.ForeignKeyConstraint(
            ["ServerDefinition"],
            ["OAuth2_ServerDefinition.ID"],
            name=op.f("fk_OAuth2_Client_ServerDefinition_OAuth2_ServerDefinition"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("ApplicationName", name=op.f("pk_OAuth2_Client")),
    )
    with op.batch_alter_table("OAuth2_Client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_OAuth2_Client_ServerDefinition"), ["ServerDefinition"], unique=False)

    op.create_table(
        "OAuth2_Server_Metadata",
        sa.Column("ServerDefinition", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("authorization_endpoint", sa.Text(), nullable=True),
        sa.Column("token_endpoint", sa.Text(), nullable=True),
        sa.Column("userinfo_endpoint", sa.Text(), nullable=True),
        sa.Column("jwks_uri", sa.Text(), nullable=True),
        sa.Column("registration_endpoint", sa.Text(), nullable=True),
        sa.Column("introspection_endpoint", sa.Text(), nullable=True),
        sa.Column("revocation_endpoint", sa.Text(), nullable=True),
        sa.Column("end_session_endpoint", sa.Text(), nullable=True),
        sa.Column("service_documentation", sa.Text(), nullable=True),
        sa.Column("op_policy_uri", sa.Text(), nullable=True),
        sa.Column("op_tos_uri", sa.Text(), nullable=True),
        sa.Column("scopes_supported", sa.JSON(), nullable=True),
        sa.Column("response_types_supported", sa.JSON(), nullable=True),
        sa.Column("response_modes_supported", sa.JSON(), nullable=True),
        sa.Column("grant_types_supported", sa.JSON(), nullable=True),
        sa.Column("acr_values_supported", sa.JSON(), nullable=True),
        sa.Column("subject_types_supported", sa.JSON(), nullable=True),
        sa.Column("id_token_signing_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("id_token_encryption_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("id_token_encryption_enc_values_supported", sa.JSON(), nullable=True),
        sa.Column("userinfo_signing_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("userinfo_encryption_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("userinfo_encryption_enc_values_supported", sa.JSON(), nullable=True),
        sa.Column("request_object_signing_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("request_object_encryption_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("request_object_encryption_enc_values_supported", sa.JSON(), nullable=True),
        sa.Column("token_endpoint_auth_methods_supported", sa.JSON(), nullable=True),
        sa.Column("token_endpoint_auth_signing_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("display_values_supported", sa.JSON(), nullable=True),
        sa.Column("claim_types_supported", sa.JSON(), nullable=True),
        sa.Column("claims_supported", sa.JSON(), nullable=True),
        sa.Column("claims_locales_supported", sa.JSON(), nullable=True),
        sa.Column("ui_locales_supported", sa.JSON(), nullable=True),
        sa.Column("code_challenge_methods_supported", sa.JSON(), nullable=True),
        sa.Column("access_token_signing_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("access_token_encryption_alg_values_supported", sa.JSON(), nullable=True),
        sa.Column("access_token_encryption_enc_values_supported", sa.JSON(), nullable=True),
        sa.Column("claims_parameter_supported", sa.Boolean(), nullable=True),
        sa.Column("request_parameter_supported", sa.Boolean(), nullable=True),
        sa.Column("request_uri_parameter_supported", sa.Boolean(), nullable=True),
        sa.Column("require_request_uri_registration", sa.Boolean(), nullable=True),
        sa.Column("frontchannel_logout_supported", sa.Boolean(), nullable=True),
        sa.Column("frontchannel_logout_session_supported", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ServerDefinition"],
            ["OAuth2_ServerDefinition.ID"],
            name=op.f("fk_OAuth2_Server_Metadata_ServerDefinition_OAuth2_ServerDefinition"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ServerDefinition", name=op.f("pk_OAuth2_Server_Metadata")),
    )
    op.create_table(
        "OAuth2_AccessToken",
        sa.Column("ID", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ApplicationName", sa.String(length=128), nullable=False),
        sa.Column("SessionId", sa.String(length=256), nullable=False),
        sa.Column("AccessToken", sa.Text(), nullable=True),
        sa.Column("TokenType", sa.String(length=64), nullable=True),
        sa.Column("Scope", sa.Text(), nullable=True),
        sa.Column("Expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("RefreshToken", sa.Text(), nullable=True),
        sa.Column("IDToken", sa.Text(), nullable=True),
        sa.Column("GrantType", sa.String(length=256), nullable=True),
        sa.Column("ResponseType", sa.String(length=256), nullable=True),
        sa.Column("ResponseMode", sa.String(length=64), nullable=True),
        sa.Column("State", sa.String(length=256), nullable=True),
        sa.Column("Nonce", sa.String(length=256), nullable=True),
        sa.Column("Hash", sa.String(length=128), nullable=True),
        sa.Column("IDHash", sa.String(length=128), nullable=True),
        sa.Column("ResponseProperties", sa.JSON(), nullable=True),
        sa.Column("Error", sa.JSON(), nullable=True),
        sa.Column("TemporarySession", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ApplicationName"],
            ["OAuth2_Client.ApplicationName"],
            name=op.f("fk_OAuth2_AccessToken_ApplicationName_OAuth2_Client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ID", name=op.f("pk_OAuth2_AccessToken")),
        sa.UniqueConstraint("ApplicationName", "SessionId", name=op.f("uq_OAuth2_AccessToken_ApplicationName")),
    )
    with op.batch_alter_table("OAuth2_AccessToken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_OAuth2_AccessToken_Hash"), ["Hash"], unique=False)

    op.create_table(
        "OAuth2_Client_Metadata",
        sa.Column("ApplicationName", sa.String(length=128), nullable=False),
        sa.Column("application_type", sa.Text(), nullable=True),
        sa.Column("client_name", sa.Text(), nullable=True),
        sa.Column("subject_type", sa.Text(), nullable=True),
        sa.Column(
            "token_endpoint_auth_method",
            sa.Enum(
                "none",
                "client_secret_basic",
                "client_secret_post",
                "client_secret_jwt",
                "private_key_jwt",
                name="token_endpoint_auth_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("client_uri", sa.Text(), nullable=True),
        sa.Column("initiate_login_uri", sa.Text(), nullable=True),
        sa.Column("jwks_uri", sa.Text(), nullable=True),
        sa.Column("logo_uri", sa.Text(), nullable=True),
        sa.Column("policy_uri", sa.Text(), nullable=True),
        sa.Column("tos_uri", sa.Text(), nullable=True),
        sa.Column("sector_identifier_uri", sa.Text(), nullable=True),
        sa.Column("frontchannel_logout_uri", sa.Text(), nullable=True),
        sa.Column("registration_client_uri", sa.Text(), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=True),
        sa.Column("default_acr_values", sa.JSON(), nullable=True),
        sa.Column("grant_types", sa.JSON(), nullable=True),
        sa.Column("response_types", sa.JSON(), nullable=True),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=True),
        sa.Column("request_uris", sa.JSON(), nullable=True),
        sa.Column("client_id_issued_at", sa.Integer(), nullable=True),
        sa.Column("client_secret_expires_at", sa.Integer(), nullable=True),
        sa.Column("default_max_age", sa.Integer(), nullable=True),
        sa.Column("frontchannel_logout_session_required", sa.Boolean(), nullable=True),
        sa.Column("require_auth_time", sa.Boolean(), nullable=True),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("registration_access_token", sa.Text(), nullable=True),
        _algorithm("access_token_signed_response_alg", ("none", *SIGNING)),
        _algorithm("access_token_encrypted_response_alg", KEY_MANAGEMENT),
        _algorithm("access_token_encrypted_response_enc", CONTENT_ENCRYPTION),
        _algorithm("id_token_signed_response_alg", SIGNING),
        _algorithm("id_token_encrypted_response_alg", KEY_MANAGEMENT),
        _algorithm("id_token_encrypted_response_enc", CONTENT_ENCRYPTION),
        _algorithm("request_object_signing_alg", ("none", *SIGNING)),
        _algorithm("request_object_encryption_alg", KEY_MANAGEMENT),
        _algorithm("request_object_encryption_enc", CONTENT_ENCRYPTION),
        _algorithm("token_endpoint_auth_signing_alg", SIGNING),
        _algorithm("userinfo_signed_response_alg", ("none", *SIGNING)),
        _algorithm("userinfo_encrypted_response_alg", KEY_MANAGEMENT),
        _algorithm("userinfo_encrypted_response_enc", CONTENT_ENCRYPTION),
        sa.ForeignKeyConstraint(
            ["ApplicationName"],
            ["OAuth2_Client.ApplicationName"],
            name=op.f("fk_OAuth2_Client_Metadata_ApplicationName_OAuth2_Client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ApplicationName", name=op.f("pk_OAuth2_Client_Metadata")),
    )


def downgrade() -> None:
    op.drop_table("OAuth2_Client_Metadata")
    with op.batch_alter_table("OAuth2_AccessToken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_OAuth2_AccessToken_Hash"))

    op.drop_table("OAuth2_AccessToken")
    op.drop_table("OAuth2_Server_Metadata")
    with op.batch_alter_table("OAuth2_Client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_OAuth2_Client_ServerDefinition"))

    op.drop_table("OAuth2_Client")
    op.drop_table("OAuth2_ServerDefinition")
    op.drop_table("OAuth2_X509Credentials")
    op.drop_table("OAuth2_SSLConfiguration")
