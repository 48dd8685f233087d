"""The public surface is a tested contract: the root `__all__` is curated, documented, and nothing else is public."""

from __future__ import annotations

import pkgutil
import re
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import oauth2store

README = (Path(__file__).parent.parent / "README.md").read_text()

#: What the README documents, by group: changing it is an API change (and a CHANGELOG line).
EXPECTED = {
    # the store, its key and its documents
    "Store",
    "generate_store_key",
    "register_store_key",
    "ListQuery",
    "export_document",
    "import_document",
    "write_document",
    "ImportReport",
    # the persistent classes and their value lists
    "AccessToken",
    "Base",
    "Client",
    "ClientKey",
    "ClientMetadata",
    "Endpoint",
    "KeyState",
    "ServerDefinition",
    "ServerMetadata",
    "SSLConfiguration",
    "X509Credentials",
    "AuthenticationType",
    "ClientType",
    "TokenEndpointAuthMethod",
    # tokens for services, TLS and retries, the client's signing key
    "AgentClient",
    "AsyncAgentClient",
    "Skew",
    "Token",
    "RetryPolicy",
    "TlsSettings",
    "SigningKey",
    "signing_key",
    # signing users in
    "SignIn",
    "AuthorizationRequest",
    "SignedIn",
    "SessionTokens",
    # protected resources (RFC 9728)
    "discover_resource",
    "ProtectedResource",
    "ProtectedResourceMetadata",
    # the error tree
    "OAuth2StoreError",
    "Problem",
    "ValidationError",
    "NotFoundError",
    "DuplicateError",
    "InUseError",
    "SchemaVersionError",
    "StoreKeyError",
    "ReadOnlyStoreError",
    "KeyMaterialError",
    "ClientNotUsableError",
    "InsecureEndpointError",
    "TransportError",
    "ProtocolError",
    "DiscoveryError",
    "OAuthServerError",
    "RegistrationError",
    "AuthorizationError",
    "CallbackError",
    "JWKSError",
    "JWTValidationError",
    "__version__",
}


def test_all_is_the_curated_surface_sorted() -> None:
    assert oauth2store.__all__ == sorted(oauth2store.__all__)
    assert set(oauth2store.__all__) == EXPECTED


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(oauth2store).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, ModuleType)
    }
    assert public == set(oauth2store.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED - {"__version__"}))
def test_every_public_name_is_documented_in_the_readme(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", README), f"{name} is exported but the README never names it"


def test_every_module_but_the_root_models_and_cli_is_private() -> None:
    # httpx_auth: the names that need httpx, which the root does not import (see the README's "asyncio and httpx").
    public = {"oauth2store", "oauth2store.models", "oauth2store.cli", "oauth2store.__main__", "oauth2store.httpx_auth"}
    for module in pkgutil.walk_packages(oauth2store.__path__, "oauth2store."):
        parts = module.name.split(".")
        if module.name in public or parts[1] in ("models", "cli"):
            continue
        assert parts[1].startswith("_"), f"{module.name} is importable as public API: make it private (_name)"


@pytest.mark.parametrize("old", ["SecretKeyError", "generate_key", "register_key", "ClientConfig", "Transport"])
def test_names_of_the_previous_release_still_work_with_a_warning(old: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"oauth2store.{old} is deprecated"):
        value = getattr(oauth2store, old)
    assert value is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            oauth2store.no_such_name  # noqa: B018


def test_the_httpx_module_lists_its_public_names() -> None:
    pytest.importorskip("httpx")
    from oauth2store import httpx_auth

    assert httpx_auth.__all__ == ["AsyncTokenSource", "TokenAuth", "TokenSource"]
    for name in httpx_auth.__all__:
        assert re.search(rf"\b{name}\b", README), f"oauth2store.httpx_auth.{name} is not in the README"
