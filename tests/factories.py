"""Factories for the tests: fresh keys, JWKs and certificates, and valid unsaved server definitions and clients.

Nothing here is a fixture (conftest.py holds those) and nothing here computes what to expect (tests/oracles.py
does): a factory makes test input.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from oracles import b64url_uint

from oauth2store import AccessToken, Client, Endpoint, ServerDefinition, SSLConfiguration, Store, X509Credentials

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# -- keys -----------------------------------------------------------------------------------------------------------


def rsa_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    """A P-256 key unless another curve is named."""
    return ec.generate_private_key(curve or ec.SECP256R1())


def key_pem(key: PrivateKey, password: str | None = None) -> str:
    """A private key as PKCS#8 PEM, encrypted with `password` when given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def public_key_pem(key: PrivateKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


_PRIVATE_RSA_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi"})


def generate_rsa_jwk(kid: str | None = None, *, key_size: int = 2048) -> dict[str, str]:
    """A fresh private RS256 signing JWK, e.g. for the provider's ``jwks`` or a private_key_jwt client."""
    private = rsa_key(key_size).private_numbers()
    public = private.public_numbers
    return {
        "kty": "RSA",
        "kid": kid or uuid.uuid4().hex,
        "use": "sig",
        "alg": "RS256",
        "n": b64url_uint(public.n),
        "e": b64url_uint(public.e),
        "d": b64url_uint(private.d),
        "p": b64url_uint(private.p),
        "q": b64url_uint(private.q),
        "dp": b64url_uint(private.dmp1),
        "dq": b64url_uint(private.dmq1),
        "qi": b64url_uint(private.iqmp),
    }


def public_jwk(jwk: Mapping[str, str]) -> dict[str, str]:
    """The public half of an RSA JWK, safe to register as a client's ``jwks`` or serve at a jwks_uri."""
    return {name: value for name, value in jwk.items() if name not in _PRIVATE_RSA_MEMBERS}


# -- certificates ---------------------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate_builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey) -> x509.CertificateBuilder:
    """A certificate for `key`, valid from yesterday for 30 days."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(
    password: str | None = None, *, key_type: Literal["ec", "rsa"] = "ec", common_name: str = "oauth2store test"
) -> tuple[str, str]:
    """A self-signed certificate and its private key (EC P-256 or RSA 2048, encrypted with `password`), as PEM."""
    key: PrivateKey = rsa_key() if key_type == "rsa" else ec_key()
    name = _name(common_name)
    certificate = _certificate_builder(name, name, key).sign(key, hashes.SHA256())
    return certificate_pem(certificate), key_pem(key, password)


@dataclass
class Issued:
    """A certificate (PEM, with the CA's for a client certificate) and its private key."""

    certificate: str
    key: rsa.RSAPrivateKey

    def key_pem(self, password: str | None = None) -> str:
        return key_pem(self.key, password)


def _subject_alternative_name(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    addresses = [x509.IPAddress(ipaddress.ip_address(host)) for host in hosts if host[0].isdigit()]
    names = [x509.DNSName(host) for host in hosts if not host[0].isdigit()]
    return x509.SubjectAlternativeName([*addresses, *names])


class TestCA:
    """A throwaway certificate authority issuing server and client certificates."""

    __test__ = False

    def __init__(self, name: str = "oauth2store test CA") -> None:
        self.key = rsa_key()
        subject = _name(name)
        key_usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
        self.certificate = (
            _certificate_builder(subject, subject, self.key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return certificate_pem(self.certificate)

    def issue(self, common_name: str, *, server: bool = True, hosts: tuple[str, ...] = ("127.0.0.1",)) -> Issued:
        """A server certificate for `hosts`, or (server=False) a client certificate chained with this CA's."""
        key = rsa_key()
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        builder = _certificate_builder(_name(common_name), self.certificate.subject, key)
        builder = builder.add_extension(authority, critical=False)
        if server:
            builder = builder.add_extension(_subject_alternative_name(hosts), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return Issued(certificate_pem(certificate) + ("" if server else self.pem), key)

    def server_context(
        self, *, require_client_cert: bool = False, hosts: tuple[str, ...] = ("127.0.0.1",)
    ) -> ssl.SSLContext:
        """A TLS server context presenting a certificate of this CA for `hosts`."""
        issued = self.issue(hosts[0], hosts=hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as directory:
            cert = Path(directory) / "cert.pem"
            key = Path(directory) / "key.pem"
            cert.write_text(issued.certificate)
            key.write_text(issued.key_pem())
            context.load_cert_chain(cert, key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.pem)
        return context


# -- definitions ----------------------------------------------------------------------------------------------------


def new_server(**overrides: Any) -> ServerDefinition:
    """A valid server definition that has not been saved (issuer https://as.example.com unless overridden)."""
    values: dict[str, Any] = {"issuer_endpoint": "https://as.example.com", **overrides}
    server = ServerDefinition(**values)
    issuer = server.issuer_endpoint
    server.server_metadata.issuer = issuer
    server.server_metadata.authorization_endpoint = f"{issuer}/authorize"
    server.server_metadata.token_endpoint = f"{issuer}/token"
    return server


def new_client(server: ServerDefinition, **overrides: Any) -> Client:
    """A valid confidential client that has not been saved."""
    values: dict[str, Any] = {
        "application_name": "orders-service",
        "client_type": "confidential",
        "client_id": "orders",
        "client_secret": "orders-secret",
        "server_definition": server,
        "redirection_endpoint": Endpoint("app.example.com", None, "oauth2/callback"),
    }
    values.update(overrides)
    return Client(**values)


# -- a store holding every kind of secret --------------------------------------------------------------------------


def pem_body_lines(pem: str) -> list[str]:
    """Distinctive lines of a PEM body (what a leaked key would show)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")][1:4]


def store_every_secret(store: Store) -> dict[str, str]:
    """Save one object of every kind with every secret set; returns {what: plaintext} to look for."""
    tls_certificate, tls_key = self_signed("tls-key-password-1234", key_type="rsa")
    x509_certificate, x509_key = self_signed("x509-key-password-5678", key_type="rsa")
    plaintexts = {
        "client_secret": "client-secret-value-0001",
        "client_password": "client-password-value-0002",
        "registration_access_token": "registration-access-token-0003",
        "initial_access_token": "initial-access-token-0004",
        "ssl_private_key_password": "tls-key-password-1234",
        "x509_private_key_password": "x509-key-password-5678",
        "access_token": "access-token-value-0005",
        "refresh_token": "refresh-token-value-0006",
        "id_token": "id-token-value-0007",
        "code_verifier": "code-verifier-value-0008",
    }
    tls = {"certificate": tls_certificate, "private_key": tls_key}
    x509_credentials = {"certificate": x509_certificate, "private_key": x509_key}
    with store.session() as db:
        db.add(SSLConfiguration(name="mtls", private_key_password=plaintexts["ssl_private_key_password"], **tls))
        x509_password = plaintexts["x509_private_key_password"]
        db.add(X509Credentials(alias="signer", private_key_password=x509_password, **x509_credentials))
        db.flush()
        server = new_server(initial_access_token=plaintexts["initial_access_token"])
        db.add(server)
        client = new_client(
            server,
            client_secret=plaintexts["client_secret"],
            client_password=plaintexts["client_password"],
            ssl_configuration="mtls",
        )
        client.client_metadata.registration_access_token = plaintexts["registration_access_token"]
        client.client_metadata.id_token_encrypted_response_alg = "RSA-OAEP"
        db.add(client)
        db.flush()
        client.RotateKeys()
        tokens = {name: plaintexts[name] for name in ("access_token", "refresh_token", "id_token", "code_verifier")}
        client.access_tokens.append(AccessToken(session_id="service", **tokens))
        keys = [json.loads(key.private_jwk) for key in client.keys]
    for number, line in enumerate(pem_body_lines(tls_key)):
        plaintexts[f"ssl_private_key_{number}"] = line
    for number, line in enumerate(pem_body_lines(x509_key)):
        plaintexts[f"x509_private_key_{number}"] = line
    for number, members in enumerate(keys):
        plaintexts[f"client_key_{number}_d"] = members["d"]
        plaintexts[f"client_key_{number}_p"] = members["p"]
    return plaintexts


def read_back(store: Store) -> dict[str, str | None]:
    """Every secret `store_every_secret` stored, as the store reads it now (the private keys whole)."""
    with store.session() as db:
        client = Client.Open(db, "orders-service")
        assert client is not None
        tls = db.get(SSLConfiguration, "mtls")
        credentials = db.get(X509Credentials, "signer")
        assert tls is not None and credentials is not None
        return {
            "client_secret": client.client_secret,
            "client_password": client.client_password,
            "registration_access_token": client.client_metadata.registration_access_token,
            "initial_access_token": client.server_definition.initial_access_token,
            "ssl_private_key_password": tls.private_key_password,
            "x509_private_key_password": credentials.private_key_password,
            "access_token": client.access_tokens[0].access_token,
            "refresh_token": client.access_tokens[0].refresh_token,
            "id_token": client.access_tokens[0].id_token,
            "code_verifier": client.access_tokens[0].code_verifier,
            "ssl_private_key": tls.private_key,
            "x509_private_key": credentials.private_key,
            "client_keys": json.dumps([key.private_jwk for key in client.keys]),
        }
