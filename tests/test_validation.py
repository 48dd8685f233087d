"""Each IRIS property rule at its edges, checked without an instance (IRIS `<Prop>IsValid`)."""

from __future__ import annotations

import pytest

from oauth2store import (
    AccessToken,
    Client,
    ClientMetadata,
    ServerDefinition,
    ServerMetadata,
    SSLConfiguration,
    ValidationError,
    X509Credentials,
)
from oauth2store._types import (
    CONTENT_ENCRYPTION_ALGORITHMS,
    KEY_MANAGEMENT_ALGORITHMS,
    SIGNING_ALGORITHMS,
    AuthenticationType,
    ClientType,
    TokenEndpointAuthMethod,
)
from oauth2store.models._validated import Validated

MODELS: list[type[Validated]] = [
    Client,
    ClientMetadata,
    ServerDefinition,
    ServerMetadata,
    SSLConfiguration,
    X509Credentials,
]

MAXLEN_CASES = [
    (Client, "application_name", 128),
    (Client, "client_password", 128),
    (Client, "description", 256),
    (Client, "jwt_audience", 256),
    (Client, "ssl_configuration", 64),
    (Client, "client_credentials", 64),
    (ServerDefinition, "ssl_configuration", 64),
    (SSLConfiguration, "name", 64),
    (SSLConfiguration, "description", 256),
    (X509Credentials, "alias", 64),
    (AccessToken, "application_name", 128),
    (AccessToken, "session_id", 256),
    (AccessToken, "token_type", 64),
]

VALUELIST_CASES = [
    (Client, "client_type", tuple(ClientType)),
    (Client, "authentication_type", tuple(AuthenticationType)),
    (Client, "signing_algorithm", ("RS256", "RS384", "RS512")),
    (Client, "encryption_algorithm", ("A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512")),
    (Client, "key_algorithm", ("RSA1_5", "RSA-OAEP")),
    (ClientMetadata, "token_endpoint_auth_method", tuple(TokenEndpointAuthMethod)),
    (ClientMetadata, "id_token_signed_response_alg", SIGNING_ALGORITHMS),
    (ClientMetadata, "token_endpoint_auth_signing_alg", SIGNING_ALGORITHMS),
    (ClientMetadata, "userinfo_signed_response_alg", ("none", *SIGNING_ALGORITHMS)),
    (ClientMetadata, "access_token_signed_response_alg", ("none", *SIGNING_ALGORITHMS)),
    (ClientMetadata, "request_object_signing_alg", ("none", *SIGNING_ALGORITHMS)),
    *[
        (ClientMetadata, f"{member}_encrypted_response_alg", KEY_MANAGEMENT_ALGORITHMS)
        for member in ("id_token", "userinfo", "access_token")
    ],
    *[
        (ClientMetadata, f"{member}_encrypted_response_enc", CONTENT_ENCRYPTION_ALGORITHMS)
        for member in ("id_token", "userinfo", "access_token")
    ],
    (ClientMetadata, "request_object_encryption_alg", KEY_MANAGEMENT_ALGORITHMS),
    (ClientMetadata, "request_object_encryption_enc", CONTENT_ENCRYPTION_ALGORITHMS),
]

REQUIRED_CASES = [
    (Client, "application_name"),
    (Client, "client_type"),
    (Client, "enabled"),
    (Client, "ssl_configuration"),
    (Client, "jwt_interval"),
    (ServerDefinition, "issuer_endpoint"),
    (ServerDefinition, "ssl_configuration"),
    (SSLConfiguration, "name"),
    (X509Credentials, "alias"),
    (X509Credentials, "certificate"),
    (AccessToken, "application_name"),
    (AccessToken, "session_id"),
]


def problem_codes(model: type[Validated], name: str, value: object) -> list[int | None]:
    with pytest.raises(ValidationError) as caught:
        model.validate_property(name, value)
    assert caught.value.fields == (name,)
    return [p.code for p in caught.value.problems]


@pytest.mark.parametrize(("model", "name", "maxlen"), MAXLEN_CASES)
def test_maxlen_edge(model: type[Validated], name: str, maxlen: int) -> None:
    model.validate_property(name, "x" * maxlen)
    assert problem_codes(model, name, "x" * (maxlen + 1)) == [7201]


@pytest.mark.parametrize(("model", "name"), [(Client, "application_name"), (Client, "ssl_configuration")])
def test_minlen_edge(model: type[Validated], name: str) -> None:
    model.validate_property(name, "x")
    # IRIS treats "" as no value: for a required property that is "required", not "too short".
    assert problem_codes(model, name, "") == [5659]


@pytest.mark.parametrize(("model", "name", "members"), VALUELIST_CASES)
def test_every_valuelist_member_and_a_non_member(model: type[Validated], name: str, members: tuple[str, ...]) -> None:
    for member in members:
        model.validate_property(name, member)
    assert problem_codes(model, name, "bogus") == [7205]
    with pytest.raises(ValidationError, match=f"{name}: must be one of {members[0]}"):
        model.validate_property(name, members[0].lower() + "x")


@pytest.mark.parametrize(("model", "name"), REQUIRED_CASES)
def test_required_property_missing(model: type[Validated], name: str) -> None:
    assert problem_codes(model, name, None) == [5659]


@pytest.mark.parametrize(
    ("model", "name", "bad", "good"),
    [
        (Client, "jwt_interval", 0, 1),
        (Client, "jwt_interval", "60", 60),
        (Client, "enabled", 1, True),
        (ClientMetadata, "default_max_age", -1, 0),
        (ClientMetadata, "contacts", "ops@example.com", ["ops@example.com"]),
        (ClientMetadata, "redirect_uris", ["not a url"], ["https://app.example.com/cb"]),
        (ClientMetadata, "jwks_uri", "ftp://example.com/jwks", "https://example.com/jwks"),
        (ClientMetadata, "jwks", [], {"keys": []}),
        (ServerDefinition, "issuer_endpoint", "as.example.com", "https://as.example.com"),
        (ServerMetadata, "grant_types_supported", [""], ["client_credentials"]),
    ],
)
def test_datatypes(model: type[Validated], name: str, bad: object, good: object) -> None:
    model.validate_property(name, good)
    with pytest.raises(ValidationError, match=name):
        model.validate_property(name, bad)


def test_unknown_property_is_named() -> None:
    with pytest.raises(ValidationError, match="client_colour: is not a property of Client"):
        Client.validate_property("client_colour", "blue")


def test_secret_values_never_appear_in_messages() -> None:
    with pytest.raises(ValidationError) as caught:
        Client.validate_property("client_password", "hunter2-" * 20)
    assert "hunter2" not in str(caught.value)
    assert "at most 128 characters (got 160)" in str(caught.value)


def test_validation_error_lists_every_problem() -> None:
    client = Client(application_name="x" * 129, client_type="bogus", jwt_interval=0)
    with pytest.raises(ValidationError) as caught:
        client.validate()
    assert {"application_name", "client_type", "jwt_interval", "server_definition", "client_id"} <= set(
        caught.value.fields
    )


@pytest.mark.parametrize("model", MODELS)
def test_every_property_has_its_iris_name(model: type[Validated]) -> None:
    rules = model.property_rules()
    assert rules
    for name, (_key, rule) in rules.items():
        assert rule.iris_name, name


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example:1234\\@127.0.0.1/token",
        "https://user:pw@as.example.com/token",
        "http://[::1",
        "https://as.example.com/a b",
        "https://as.example.com:0/",
        "https://\u00e9xample.com/",
    ],
)
def test_ambiguous_urls_are_refused_for_every_uri_property(url: str) -> None:
    for model, name in [
        (ServerMetadata, "token_endpoint"),
        (ServerDefinition, "issuer_endpoint"),
        (ClientMetadata, "jwks_uri"),
        (ClientMetadata, "registration_client_uri"),
    ]:
        with pytest.raises(ValidationError, match=name) as caught:
            model.validate_property(name, url)
        assert "pw" not in str(caught.value)
    with pytest.raises(ValidationError, match="redirect_uris"):
        ClientMetadata.validate_property("redirect_uris", ["https://app.example.com/cb", url])
