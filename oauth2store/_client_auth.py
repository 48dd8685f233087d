"""Client authentication at the token, introspection and revocation endpoints, one strategy per method.

OpenID Connect Core §9 / RFC 6749 §2.3.1 / RFC 7523 §2.2. Each strategy turns a client's identity into the headers
and form fields of one request; they are pure (the time is passed in) and chosen by `token_endpoint_auth_method`
from `STRATEGIES`, never by an if/elif chain.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote_plus

from ._errors import KeyMaterialError
from ._jwx import algorithms, jws
from ._jwx.jws import SigningKey
from ._types import TokenEndpointAuthMethod

#: RFC 7523 §2.2 client_assertion_type.
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientIdentity:
    """What client authentication needs of a client definition, as plain values."""

    client_id: str
    method: str = TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    client_secret: str | None = field(default=None, repr=False)
    #: `aud` of assertion JWTs (IRIS JWTAudienceGet: the stored audience, else the issuer).
    audience: str | None = None
    #: Lifetime of assertion JWTs in seconds (IRIS JWTInterval).
    jwt_interval: int = 60
    #: token_endpoint_auth_signing_alg; client_secret_jwt falls back to HS256 when this is not an HS algorithm.
    signing_alg: str | None = None
    signing_key: SigningKey | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Credentials:
    """Headers and form fields that authenticate one request."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    form: dict[str, str] = field(default_factory=dict, repr=False)


class ClientAuthentication(Protocol):
    """One token_endpoint_auth_method."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials: ...


def _secret(identity: ClientIdentity) -> str:
    if not identity.client_secret:
        raise KeyMaterialError(None, f"client {identity.client_id!r} uses {identity.method} but has no client_secret")
    return identity.client_secret


def _claims(identity: ClientIdentity, now: float) -> dict[str, object]:
    if not identity.audience:
        raise KeyMaterialError(None, f"client {identity.client_id!r}: no audience for its assertion (set jwt_audience)")
    issued = int(now)
    return {
        "iss": identity.client_id,
        "sub": identity.client_id,
        "aud": identity.audience,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "exp": issued + identity.jwt_interval,
    }


def _assertion(token: str) -> Credentials:
    return Credentials(form={"client_assertion_type": JWT_BEARER, "client_assertion": token})


class NoAuthentication:
    """`none`: a public client names itself with client_id in the body."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials:
        return Credentials(form={"client_id": identity.client_id})


class ClientSecretBasic:
    """`client_secret_basic`: HTTP Basic of the form-encoded id and secret (RFC 6749 §2.3.1)."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials:
        pair = f"{quote_plus(identity.client_id)}:{quote_plus(_secret(identity))}"
        return Credentials(headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")})


class ClientSecretPost:
    """`client_secret_post`: client_id and client_secret in the body."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials:
        return Credentials(form={"client_id": identity.client_id, "client_secret": _secret(identity)})


class ClientSecretJwt:
    """`client_secret_jwt`: an HS256/384/512 assertion keyed by the client secret (RFC 7523 §2.2)."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials:
        alg = identity.signing_alg if algorithms.is_hmac(identity.signing_alg) else "HS256"
        return _assertion(jws.sign(_claims(identity, now), alg, _secret(identity).encode()))


class PrivateKeyJwt:
    """`private_key_jwt`: an assertion signed with the client's private key (RFC 7523 §2.2)."""

    def credentials(self, identity: ClientIdentity, now: float) -> Credentials:
        key = identity.signing_key
        if key is None:
            raise KeyMaterialError(None, f"client {identity.client_id!r} uses private_key_jwt but has no signing key")
        return _assertion(jws.sign(_claims(identity, now), key.alg, key.private_key, kid=key.kid))


#: The strategy of each method.
STRATEGIES: dict[str, ClientAuthentication] = {
    TokenEndpointAuthMethod.NONE: NoAuthentication(),
    TokenEndpointAuthMethod.CLIENT_SECRET_BASIC: ClientSecretBasic(),
    TokenEndpointAuthMethod.CLIENT_SECRET_POST: ClientSecretPost(),
    TokenEndpointAuthMethod.CLIENT_SECRET_JWT: ClientSecretJwt(),
    TokenEndpointAuthMethod.PRIVATE_KEY_JWT: PrivateKeyJwt(),
}


def authenticate(identity: ClientIdentity, now: float) -> Credentials:
    """The credentials for one request by `identity`, by its method.

    Raises:
        KeyMaterialError: the method is unknown, or the client lacks the secret or key it needs.
    """
    strategy = STRATEGIES.get(identity.method)
    if strategy is None:
        raise KeyMaterialError(
            None, f"client {identity.client_id!r}: unknown token_endpoint_auth_method {identity.method!r}"
        )
    return strategy.credentials(identity, now)
