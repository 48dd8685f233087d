"""Every IRIS VALUELIST as one StrEnum, plus the mappings of the deprecated properties onto client metadata.

Members are `str`, so `client.client_type == ClientType.CONFIDENTIAL` and `== "confidential"` both hold.
Sources: the OAuth2.Client class reference and OAuth2.Client.Metadata (see shared/docs/iris-oauth2.md §1-2).
"""

from __future__ import annotations

from enum import StrEnum


class ClientType(StrEnum):
    """IRIS `ClientType` VALUELIST: RFC 6749 public / confidential, or a resource server that is not a client."""

    PUBLIC = "public"
    CONFIDENTIAL = "confidential"
    RESOURCE = "resource"


class AuthenticationType(StrEnum):
    """Deprecated IRIS `AuthenticationType` VALUELIST, replaced by `token_endpoint_auth_method`."""

    NONE = "none"
    BASIC = "basic"
    BODY = "body"
    CLIENT_SECRET_JWT = "client_secret_jwt"
    PRIVATE_KEY_JWT = "private_key_jwt"


class TokenEndpointAuthMethod(StrEnum):
    """OpenID Connect Core §9 client authentication methods (IRIS keeps this member free text)."""

    NONE = "none"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    CLIENT_SECRET_JWT = "client_secret_jwt"
    PRIVATE_KEY_JWT = "private_key_jwt"


class DeprecatedSigningAlgorithm(StrEnum):
    """Deprecated IRIS `SigningAlgorithm` VALUELIST."""

    RS256 = "RS256"
    RS384 = "RS384"
    RS512 = "RS512"


class DeprecatedEncryptionAlgorithm(StrEnum):
    """Deprecated IRIS `EncryptionAlgorithm` VALUELIST (JWE content encryption)."""

    A128CBC_HS256 = "A128CBC-HS256"
    A192CBC_HS384 = "A192CBC-HS384"
    A256CBC_HS512 = "A256CBC-HS512"


class DeprecatedKeyAlgorithm(StrEnum):
    """Deprecated IRIS `KeyAlgorithm` VALUELIST (JWE key management)."""

    RSA1_5 = "RSA1_5"
    RSA_OAEP = "RSA-OAEP"


#: JWS algorithms IRIS accepts in the client metadata's `*_signed_response_alg` members.
SIGNING_ALGORITHMS: tuple[str, ...] = tuple(
    f"{family}{bits}" for family in ("RS", "HS", "ES", "PS") for bits in (256, 384, 512)
)
#: JWE key-management algorithms of the `*_encrypted_response_alg` members.
KEY_MANAGEMENT_ALGORITHMS: tuple[str, ...] = ("none", "RSA1_5", "RSA-OAEP", "A128KW", "A192KW", "A256KW", "dir")
#: JWE content-encryption algorithms of the `*_encrypted_response_enc` members.
CONTENT_ENCRYPTION_ALGORITHMS: tuple[str, ...] = ("none", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512")

#: AuthenticationType -> token_endpoint_auth_method (iris-oauth2.md §2); the reverse is unique.
AUTHENTICATION_TYPE_TO_METHOD: dict[str, str] = {
    AuthenticationType.NONE: TokenEndpointAuthMethod.NONE,
    AuthenticationType.BASIC: TokenEndpointAuthMethod.CLIENT_SECRET_BASIC,
    AuthenticationType.BODY: TokenEndpointAuthMethod.CLIENT_SECRET_POST,
    AuthenticationType.CLIENT_SECRET_JWT: TokenEndpointAuthMethod.CLIENT_SECRET_JWT,
    AuthenticationType.PRIVATE_KEY_JWT: TokenEndpointAuthMethod.PRIVATE_KEY_JWT,
}
METHOD_TO_AUTHENTICATION_TYPE: dict[str, str] = {v: k for k, v in AUTHENTICATION_TYPE_TO_METHOD.items()}

#: Grants that send the user agent back to the client, and so need a redirection endpoint.
REDIRECT_GRANT_TYPES: frozenset[str] = frozenset({"authorization_code", "implicit"})
