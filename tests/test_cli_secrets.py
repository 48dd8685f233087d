"""No command prints a stored secret unless asked to (`--reveal`, `export --include-secrets`); `token` prints the
access token it got, by design, and nothing else secret.

The store holds every kind of secret; every value is read back from the database after all commands ran, and each
command's output is searched for it (private keys by each private JWK member and each line of PEM text).
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_shell import ISSUER, Shell
from factories import self_signed
from oidc_provider import OidcProvider
from sqlalchemy import select

from oauth2store import Base, ServerDefinition, SSLConfiguration, Store, X509Credentials
from oauth2store.models._validated import Validated

#: The members of a private JWK that are the private key (RFC 7518 §6.2.2, §6.3.2).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
CLIENT_CREDENTIALS = ("--grant-type", "client_credentials")


def _fragments(secret: str, owner: object, value: str) -> dict[str, str]:
    """What of a secret must never be printed: the value, each private member of a JWK, each line of a PEM."""
    if value.startswith("{"):
        members = json.loads(value)
        return {f"{secret}.{m} of {owner!r}": members[m] for m in PRIVATE_MEMBERS if m in members}
    if value.startswith("-----BEGIN"):
        lines = [line for line in value.splitlines() if not line.startswith("-----") and len(line) >= 16]
        return {f"{secret} of {owner!r}, line {number}": line for number, line in enumerate(lines)}
    return {f"{secret} of {owner!r}": value}


def stored_secrets(url: str) -> dict[str, str]:
    """Every secret the store holds, from every secret column of every model, labelled by property and owner."""
    found: dict[str, str] = {}
    with Store(url) as store, store.session() as db:
        for mapper in Base.registry.mappers:
            model = mapper.class_
            if not issubclass(model, Validated):
                continue
            secrets = [(name, key) for name, (key, rules) in model.property_rules().items() if rules.secret]
            for obj in db.scalars(select(model)) if secrets else ():
                for name, key in secrets:
                    value = getattr(obj, key)
                    if value:
                        found.update(_fragments(f"{model.kind}.{name}", obj.identity, value))
    return found


def _store_secrets_the_command_cannot_set(url: str, op: OidcProvider) -> None:
    """Credentials, a TLS configuration, and the provider's initial access token on both server definitions."""
    certificate, key = self_signed("x509-key-password")
    tls_certificate, tls_key = self_signed("tls-key-password")
    with Store(url) as store, store.session() as db:
        credentials = {"certificate": certificate, "private_key": key, "private_key_password": "x509-key-password"}
        db.add(X509Credentials(alias="svc-cert", **credentials))
        tls = {"certificate": tls_certificate, "private_key": tls_key, "private_key_password": "tls-key-password"}
        db.add(SSLConfiguration(name="mtls", certificate_authorities=tls_certificate, **tls))
        for issuer in (ISSUER, op.issuer):
            server = ServerDefinition.OpenByIssuer(db, issuer)
            assert server is not None
            server.initial_access_token = op.initial_access_token


def test_no_command_prints_a_secret_unless_asked_to(
    shell: Shell, store_url: str, protected_oidc: OidcProvider, tmp_path: Path
) -> None:
    op = protected_oidc  # registration needs the initial access token the server definitions hold
    registered = op.register()
    shell("server", "discover", op.issuer)
    _store_secrets_the_command_cannot_set(store_url, op)
    shell("client", "set", "svc", "--ssl-configuration", "mtls", "--metadata", "registration_access_token=rat-0123")
    cert = ("--type", "confidential", "--server", ISSUER, "--client-id", "cert", "--client-secret", "cert-secret")
    credentials = ("--client-credentials", "svc-cert", "--client-password", "client-password-0123")
    shell("client", "create", "cert", *cert, *credentials, *CLIENT_CREDENTIALS)
    ec = ("--type", "confidential", "--server", ISSUER, "--client-id", "ec", "--auth-method", "private_key_jwt")
    shell("client", "create", "ec", *ec, "--metadata", "token_endpoint_auth_signing_alg=ES256", *CLIENT_CREDENTIALS)
    op_svc = ("--type", "confidential", "--server", op.issuer)
    credentials = ("--client-id", registered["client_id"], "--client-secret", registered["client_secret"])
    shell("client", "create", "op-svc", *op_svc, *credentials, *CLIENT_CREDENTIALS)
    for name in ("reg", "reg-json"):
        shell("client", "create", name, "--type", "confidential", "--server", op.issuer, *CLIENT_CREDENTIALS)

    printed: dict[str, str] = {}  # what each command printed, by its command line

    def run(*args: str) -> str:
        printed[" ".join(args)] = output = shell(*args)
        return output

    run("keys", "rotate", "svc")
    run("keys", "rotate", "ec", "--json")
    run("register", "reg")
    run("register", "reg-json", "--json")
    token = json.loads(run("token", "op-svc", "--json"))["access_token"]
    run("token", "op-svc")
    run("introspect", "op-svc", token)
    for json_option in ((), ("--json",)):
        run("client", "list", *json_option)
        run("client", "list", "--server", "1", *json_option)
        run("server", "list", *json_option)
        for reference in ("1", op.issuer):
            run("server", "show", reference, *json_option)
        for name in ("svc", "cert", "ec", "op-svc", "reg", "reg-json"):
            run("client", "show", name, *json_option)
        run("jwks", "refresh", "op-svc", *json_option)
        run("server", "discover", op.issuer, *json_option)
    for name in ("svc", "ec", "cert"):
        run("keys", "show", name)
    run("client", "validate", "svc")
    exported = tmp_path / "exported.json"
    run("export", "-o", str(exported))
    printed["the file of export -o"] = exported.read_text()
    run("import", str(exported), "--dry-run")
    run("export")
    revealed = [
        shell("client", "show", "svc", "--reveal"),
        shell("client", "show", "cert", "--json", "--reveal"),
        shell("server", "show", "1", "--reveal"),
        shell("export", "--include-secrets"),
    ]

    secrets = stored_secrets(store_url)
    kinds = {label.split(" of ")[0] for label in secrets}
    assert kinds >= {
        "Client.client_secret",
        "Client.client_password",
        "ClientMetadata.registration_access_token",
        "ServerDefinition.initial_access_token",
        *(f"ClientKey.private_jwk.{member}" for member in PRIVATE_MEMBERS),  # RSA: all six; EC: d
        "SSLConfiguration.private_key",
        "SSLConfiguration.private_key_password",
        "X509Credentials.private_key",
        "X509Credentials.private_key_password",
        "AccessToken.access_token",
    }, kinds
    access_tokens = {label for label in secrets if label.startswith("AccessToken.")}
    for command, output in printed.items():
        allowed = access_tokens if command.startswith("token ") else set()  # printing it is the command's job
        leaked = [label for label, value in secrets.items() if value in output and label not in allowed]
        assert leaked == [], f"`{command}` printed {leaked}"
    # Asked for, they are shown: the search above would have found them.
    missing = [label for label, value in secrets.items() if value not in "\n".join(revealed)]
    assert set(missing) == access_tokens
