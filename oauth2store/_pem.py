"""Checks of PEM certificates and private keys, so an unusable credential is refused when it is saved (IRIS #8885).

Messages say what is wrong with the PEM, never what it contains.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ._errors import Problem

UNUSABLE_CREDENTIAL = 8885


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; raises ValueError when there is none or one is malformed."""
    certificates = x509.load_pem_x509_certificates(pem.encode())
    if not certificates:
        raise ValueError("no certificate")
    return certificates


def load_private_key(pem: str, password: str | None) -> PrivateKeyTypes:
    """The private key of a PEM; raises ValueError or TypeError when it is malformed or the password is wrong."""
    return serialization.load_pem_private_key(pem.encode(), password.encode() if password else None)


def certificate_problems(name: str, pem: str | None) -> list[Problem]:
    """Why `pem` is not a PEM certificate bundle (empty when it is, or when there is none)."""
    if not pem:
        return []
    try:
        load_certificates(pem)
    except ValueError:
        return [Problem(name, "must be one or more PEM certificates", UNUSABLE_CREDENTIAL)]
    return []


def private_key_problems(
    name: str, pem: str | None, password: str | None, certificate_pem: str | None
) -> list[Problem]:
    """Why the key cannot be loaded with `password`, or does not belong to the first certificate of the bundle."""
    if not pem:
        return []
    try:
        key = load_private_key(pem, password)
    except (ValueError, TypeError):
        return [Problem(name, "must be a PEM private key that opens with the given password", UNUSABLE_CREDENTIAL)]
    if certificate_pem:
        try:
            certificate = load_certificates(certificate_pem)[0]
        except ValueError:
            return []  # reported by certificate_problems
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        ours = key.public_key().public_bytes(serialization.Encoding.DER, spki)
        theirs = certificate.public_key().public_bytes(serialization.Encoding.DER, spki)
        if ours != theirs:
            return [Problem(name, "does not match the certificate's public key", UNUSABLE_CREDENTIAL)]
    return []
