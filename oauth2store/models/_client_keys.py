"""The bodies of the client's own-key methods: RotateKeys and the client's published JWKS.

Model glue: read the client's columns and key rows, call the JOSE package on plain values, write the keys back.
The key lifecycle itself (published, active, retired) is `ClientKey`'s, derived from timestamps alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session, object_session

from .._errors import KeyMaterialError, Problem, ValidationError
from .._jwx import algorithms, jwk
from .._pem import load_certificates
from .client_key import ClientKey, active_key
from .client_metadata import ClientMetadata
from .x509_credentials import X509Credentials

if TYPE_CHECKING:
    from .client import Client

#: How long RotateKeys publishes a new key before it signs: longer than a server caches the client's JWKS.
DEFAULT_PUBLICATION_DELAY = timedelta(hours=1)
#: How long a retired key stays published: longer than `jwt_interval` plus the server's JWKS cache time.
DEFAULT_RETENTION = timedelta(days=1)
#: The metadata members asking for responses encrypted to the client's own key.
_ENCRYPTED_RESPONSE_MEMBERS = (
    "id_token_encrypted_response_alg",
    "userinfo_encrypted_response_alg",
    "access_token_encrypted_response_alg",
)


def _wanted(client: Client, publication_delay: timedelta, retention: timedelta) -> list[tuple[str, str]]:
    """(use, alg) of each key a rotation makes: one signing key, one per RSA key-management algorithm asked for."""
    metadata = client.client_metadata
    signing_alg = metadata.token_endpoint_auth_signing_alg or "RS256"
    if not algorithms.has_key_pair(signing_alg):
        raise KeyMaterialError(
            client.application_name,
            f"client_metadata.token_endpoint_auth_signing_alg {signing_alg} has no key pair to rotate "
            "(HS* algorithms sign with the client secret)",
        )
    if retention <= timedelta(seconds=client.jwt_interval or 0) + publication_delay:
        problem = Problem(
            "retention", "must be longer than jwt_interval plus publication_delay (the server's JWKS cache time)"
        )
        raise ValidationError(client.kind, client.application_name, [problem])
    encryption = {getattr(metadata, member) for member in _ENCRYPTED_RESPONSE_MEMBERS}
    return [("sig", signing_alg)] + [("enc", alg) for alg in sorted(encryption & algorithms.KEY_MANAGEMENT.keys())]


def _new_key(use: str, alg: str, private_key: jwk.PrivateKey, now: datetime, active_from: datetime) -> ClientKey:
    private_members: dict[str, Any] = jwk.private_jwk(private_key)
    public_members: dict[str, Any] = jwk.public_jwk(private_key.public_key())
    kid = jwk.thumbprint(public_members)
    public_members.update(kid=kid, use=use, alg=alg)
    private_members.update(kid=kid, use=use, alg=alg)
    return ClientKey(
        kid=kid,
        use=use,
        alg=alg,
        private_jwk=json.dumps(private_members, separators=(",", ":")),
        public_jwk=public_members,
        created=now,
        active_from=active_from,
    )


def rotate_keys(
    client: Client, now: datetime | None, *, publication_delay: timedelta, retention: timedelta
) -> list[ClientKey]:
    """`Client.RotateKeys`: add the new key pairs, drop the expired ones, publish; flushed when in a session."""
    if client.client_credentials:
        return []
    wanted = _wanted(client, publication_delay, retention)
    # Generated before any lock is taken: RSA generation is the slow part (tens of milliseconds).
    generated = [(use, alg, jwk.generate_private_key(alg)) for use, alg in wanted]
    session = object_session(client)
    if session is not None and inspect(client).persistent:
        _lock_for_rotation(client, session)
        session.refresh(client, ["keys"])  # keys other transactions committed while we generated
    now = now or datetime.now(UTC)
    created: list[ClientKey] = []
    for use, alg, private_key in generated:
        current = active_key(client.keys, use, now)
        active_from = now if current is None else now + publication_delay
        key = _new_key(use, alg, private_key, now, active_from)
        key.retention = int(retention.total_seconds())
        client.keys.append(key)
        created.append(key)
    for key in [k for k in client.keys if k.is_expired(client.keys, now)]:
        client.keys.remove(key)
    client.client_metadata.jwks = published_jwks_at(client, now)
    if session is not None:
        session.flush()
    return created


def _lock_for_rotation(client: Client, session: Session) -> None:
    """Serialize rotations of this client: a row lock on PostgreSQL, the write lock on SQLite."""
    same = ClientMetadata.application_name == client.application_name
    if session.get_bind().dialect.name == "sqlite":
        # A no-op write takes SQLite's single write lock for the rest of the transaction.
        no_op = update(ClientMetadata).where(same).values(jwks=ClientMetadata.jwks)
        session.execute(no_op.execution_options(synchronize_session=False))
    else:
        session.execute(select(ClientMetadata.application_name).where(same).with_for_update())


def published_jwks_at(client: Client, now: datetime) -> dict[str, Any]:
    """`Client.published_jwks_at`: the public keys published at `now`, or the certificate's key (IRIS)."""
    if client.client_credentials:
        credentials = client.x509_credentials
        if credentials is None or credentials.alias != client.client_credentials:
            return {"keys": []}
        return {"keys": [_credentials_jwk(client, credentials)]}
    return {"keys": [dict(k.public_jwk) for k in client.keys if not k.is_expired(client.keys, now)]}


def _credentials_jwk(client: Client, credentials: X509Credentials) -> dict[str, Any]:
    """IRIS JWKSFromCredentials: the certificate's public key, `kid` its RFC 7638 thumbprint, with `x5c`."""
    certificates = load_certificates(credentials.certificate)
    public_key = certificates[0].public_key()
    if not isinstance(public_key, jwk.PublicKey):
        raise KeyMaterialError(client.application_name, "the certificate's key is neither RSA nor EC")
    members: dict[str, Any] = jwk.public_jwk(public_key)
    members["kid"] = jwk.thumbprint(members)
    members["use"] = "sig"
    metadata = client.client_metadata
    alg = metadata.token_endpoint_auth_signing_alg if metadata is not None else None
    if alg and jwk.fits(alg, public_key):
        members["alg"] = alg
    members["x5c"] = list(jwk.x5c(certificates))
    return members
