"""SSLConfiguration and X509Credentials: stored by name, PEMs checked on save, deletes refused while used."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import new_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from oauth2store import InUseError, ServerDefinition, SSLConfiguration, ValidationError, X509Credentials


def make_pem_pair(password: str | None = None) -> tuple[str, str]:
    """A self-signed certificate and its private key, as PEM text."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oauth2store test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_default_configuration_exists(session: Session) -> None:
    default = session.get(SSLConfiguration, "default")
    assert default is not None
    assert (default.verify_peer, default.enabled, default.certificate_authorities) == (True, True, None)


def test_configuration_with_client_certificate(session: Session) -> None:
    certificate, key = make_pem_pair("pw")
    session.add(SSLConfiguration(name="mtls", certificate_authorities=certificate, certificate=certificate,
                                 private_key=key, private_key_password="pw"))  # fmt: skip
    session.flush()
    assert session.get(SSLConfiguration, "mtls") is not None


def test_unusable_pems_are_refused(session: Session) -> None:
    certificate, key = make_pem_pair("right")
    other_certificate, _ = make_pem_pair()
    config = SSLConfiguration(name="broken", certificate_authorities="-----BEGIN CERTIFICATE-----\nnope\n",
                              certificate=other_certificate, private_key=key, private_key_password="wrong")  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        config.validate()
    assert set(caught.value.fields) == {"certificate_authorities", "private_key"}
    assert all(p.code == 8885 for p in caught.value.problems)
    assert "right" not in str(caught.value) and "wrong" not in str(caught.value)
    config.private_key_password = "right"
    with pytest.raises(ValidationError, match="private_key: does not match the certificate"):
        X509Credentials(
            alias="c", certificate=other_certificate, private_key=key, private_key_password="right"
        ).validate()
    X509Credentials(alias="c", certificate=certificate, private_key=key, private_key_password="right").validate()


def test_certificate_without_key_is_refused() -> None:
    certificate, _ = make_pem_pair()
    with pytest.raises(ValidationError, match="go together"):
        SSLConfiguration(name="half", certificate=certificate).validate()


def test_delete_refused_while_used(session: Session, server: ServerDefinition) -> None:
    certificate, key = make_pem_pair()
    session.add_all([SSLConfiguration(name="corp"), X509Credentials(alias="signer", certificate=certificate,
                                                                       private_key=key)])  # fmt: skip
    session.flush()
    client = new_client(server, ssl_configuration="corp", client_credentials="signer")
    session.add(client)
    session.flush()
    with pytest.raises(InUseError, match="'Client orders-service'"):
        session.delete(session.get_one(SSLConfiguration, "corp"))
        session.flush()
    session.rollback()


def test_delete_credentials_refused_while_used(session: Session, server: ServerDefinition) -> None:
    certificate, key = make_pem_pair()
    session.add(X509Credentials(alias="signer", certificate=certificate, private_key=key))
    server.server_credentials = "signer"
    session.flush()
    with pytest.raises(InUseError, match=r"ServerDefinition https://as\.example\.com"):
        session.delete(session.get_one(X509Credentials, "signer"))
        session.flush()
