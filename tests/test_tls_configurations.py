"""SSLConfiguration and X509Credentials: stored by name, PEMs checked on save, deletes refused while used."""

from __future__ import annotations

import pytest
from factories import new_client, self_signed
from sqlalchemy.orm import Session

from oauth2store import InUseError, ServerDefinition, SSLConfiguration, ValidationError, X509Credentials


def test_default_configuration_exists(session: Session) -> None:
    default = session.get(SSLConfiguration, "default")
    assert default is not None
    assert (default.verify_peer, default.enabled, default.certificate_authorities) == (True, True, None)


def test_configuration_with_client_certificate(session: Session) -> None:
    certificate, key = self_signed("pw")
    client_certificate = {"certificate": certificate, "private_key": key, "private_key_password": "pw"}
    session.add(SSLConfiguration(name="mtls", certificate_authorities=certificate, **client_certificate))
    session.flush()
    assert session.get(SSLConfiguration, "mtls") is not None


def test_unusable_pems_are_refused(session: Session) -> None:
    certificate, key = self_signed("right")
    other_certificate, _ = self_signed()
    mismatched = {"certificate": other_certificate, "private_key": key, "private_key_password": "wrong"}
    config = SSLConfiguration(
        name="broken", certificate_authorities="-----BEGIN CERTIFICATE-----\nnope\n", **mismatched
    )
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
    certificate, _ = self_signed()
    with pytest.raises(ValidationError, match="go together"):
        SSLConfiguration(name="half", certificate=certificate).validate()


def test_delete_refused_while_used(session: Session, server: ServerDefinition) -> None:
    certificate, key = self_signed()
    session.add_all(
        [SSLConfiguration(name="corp"), X509Credentials(alias="signer", certificate=certificate, private_key=key)]
    )
    session.flush()
    client = new_client(server, ssl_configuration="corp", client_credentials="signer")
    session.add(client)
    session.flush()
    with pytest.raises(InUseError, match="'Client orders-service'"):
        session.delete(session.get_one(SSLConfiguration, "corp"))
        session.flush()
    session.rollback()


def test_delete_credentials_refused_while_used(session: Session, server: ServerDefinition) -> None:
    certificate, key = self_signed()
    session.add(X509Credentials(alias="signer", certificate=certificate, private_key=key))
    server.server_credentials = "signer"
    session.flush()
    with pytest.raises(InUseError, match=r"ServerDefinition https://as\.example\.com"):
        session.delete(session.get_one(X509Credentials, "signer"))
        session.flush()
