"""Dynamic client registration (RFC 7591) and management (RFC 7592) against the real oidc-provider, plus local
fault servers; every failure must leave the stored client exactly as it was (compared row by row in the database)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from factories import new_client, new_server
from local_servers import Reply, Seen, serve
from oidc_provider import OidcProvider
from sqlalchemy import select, text

from oauth2store import (
    AccessToken,
    AgentClient,
    Client,
    ClientNotUsableError,
    InsecureEndpointError,
    KeyMaterialError,
    OAuthServerError,
    ProtocolError,
    RegistrationError,
    ServerDefinition,
    Store,
    TransportError,
    ValidationError,
)
from oauth2store._http.values import HttpResponse
from oauth2store._registration import (
    RegistrationResponse,
    build_registration_request,
    process_registration_response,
    secret_expiry_problem,
)
from oauth2store.models._registration import registration_rules

RESOURCE = "urn:test:api"


def add_client(store: Store, issuer: str, name: str, method: str = "client_secret_basic", **metadata: Any) -> None:
    """A client definition awaiting registration at `issuer` (discovered), committed."""
    with store.session() as session:
        server = ServerDefinition.OpenByIssuer(session, issuer) or ServerDefinition.discover(session, issuer)
        client = Client(application_name=name, client_type="confidential", server_definition=server)
        client.client_metadata.token_endpoint_auth_method = method
        client.client_metadata.grant_types = ["client_credentials"]
        client.client_metadata.client_name = name
        for member, value in metadata.items():
            setattr(client.client_metadata, member, value)
        session.add(client)
        if method == "private_key_jwt":
            session.flush()
            client.RotateKeys()


def rows(store: Store, name: str) -> dict[str, Any]:
    """The client's stored rows as the database holds them (secrets as ciphertext), in a fresh connection."""
    with store.engine.connect() as connection:
        found: dict[str, Any] = {}
        for table in ("OAuth2_Client", "OAuth2_Client_Metadata", "OAuth2_ClientKey", "OAuth2_AccessToken"):
            result = connection.execute(
                text(f'SELECT * FROM "{table}" WHERE "ApplicationName" = :name'), {"name": name}
            )
            found[table] = sorted((tuple(row) for row in result), key=repr)
        return found


def register(store: Store, name: str, *, write: bool = False, **options: Any) -> dict[str, Any]:
    with store.session(write=write) as session:
        client = Client.Open(session, name)
        assert client is not None
        return client.register(**options)


def refused_and_unchanged(store: Store, name: str, error: type[Exception], call: str = "register") -> Exception:
    """Run `call` on the client, expect `error`, COMMIT the session anyway, and check nothing was written."""
    before = rows(store, name)
    with store.session() as session:
        client = Client.Open(session, name)
        assert client is not None
        with pytest.raises(error) as caught:
            getattr(client, call)()
        assert client.client_metadata is not None  # the client stays usable in the session
    assert rows(store, name) == before
    return caught.value


# -- the whole lifecycle ---------------------------------------------------------------------------------------


def test_register_get_token_read_update_delete_with_a_secret(store: Store, oidc: OidcProvider) -> None:
    add_client(store, oidc.issuer, "basic")
    document = register(store, "basic")
    assert "client_secret" not in document and "registration_access_token" not in document
    with store.session() as session:
        client = Client.Open(session, "basic")
        assert client is not None
        metadata = client.client_metadata
        assert client.client_id == document["client_id"] and client.client_secret
        assert metadata.registration_access_token and metadata.registration_client_uri == (
            f"{oidc.registration_endpoint}/{client.client_id}"
        )
        assert metadata.client_secret_expires_at == 0
        assert abs(metadata.client_id_issued_at - datetime.now(UTC).timestamp()) < 60
        assert metadata.subject_type == "public"  # a value the server chose, merged back
        secret, registration_token = client.client_secret, metadata.registration_access_token
    stored = rows(store, "basic")
    assert secret not in repr(stored) and registration_token not in repr(stored)  # encrypted at rest

    agent = AgentClient(store, "basic")
    assert agent.introspect(agent.get_access_token())["client_id"] == document["client_id"]

    with store.session() as session:
        client = Client.Open(session, "basic")
        assert client is not None
        assert client.read_registration()["client_name"] == "basic"
        client.client_metadata.client_name = "renamed"
        assert client.update_registration()["client_name"] == "renamed"
        # oidc-provider rotates the registration access token on update (RFC 7592 §2.2 allows it): stored.
        assert client.client_metadata.registration_access_token not in (None, registration_token)
    with store.session() as session:
        client = Client.Open(session, "basic")
        assert client is not None
        assert client.read_registration()["client_name"] == "renamed"
        client.delete_registration()
        assert client.client_id is None and client.client_secret is None and client.is_awaiting_registration
        assert client.client_metadata.registration_client_uri is None
        assert client.client_metadata.registration_access_token is None
    with store.session() as session:
        assert session.scalars(select(AccessToken).where(AccessToken.application_name == "basic")).all() == []

    form = {"grant_type": "client_credentials"}
    refused = requests.post(oidc.token_endpoint, data=form, auth=(document["client_id"], secret), timeout=5)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with pytest.raises(ClientNotUsableError, match="awaiting registration"):
        AgentClient(store, "basic").get_access_token()

    # Ready to register again: a new client_id, and tokens work again.
    again = register(store, "basic")
    assert again["client_id"] != document["client_id"]
    assert AgentClient(store, "basic").get_access_token()


def test_private_key_jwt_rotation_is_pushed_by_update_registration(store: Store, oidc: OidcProvider) -> None:
    add_client(store, oidc.issuer, "pkjwt", "private_key_jwt")
    register(store, "pkjwt")
    agent = AgentClient(store, "pkjwt")
    assert agent.get_access_token()
    with store.session() as session:
        client = Client.Open(session, "pkjwt")
        assert client is not None
        old_kid = client.published_jwks["keys"][0]["kid"]
        (new_key,) = client.RotateKeys(publication_delay=timedelta(0))  # active at once
        assert new_key.kid != old_kid

    # The server does not know the new key yet: an assertion it signs is refused.
    with pytest.raises(OAuthServerError, match="invalid_client"):
        agent.get_access_token(resource=RESOURCE)

    with store.session() as session:
        client = Client.Open(session, "pkjwt")
        assert client is not None
        document = client.update_registration()
        assert {key["kid"] for key in document["jwks"]["keys"]} == {old_kid, new_key.kid}
        assert all("d" not in key for key in document["jwks"]["keys"])  # public keys only
    assert agent.get_access_token(resource=RESOURCE)  # signed with the new key, accepted now

    with store.session() as session:
        client = Client.Open(session, "pkjwt")
        assert client is not None
        assert client.read_registration()["token_endpoint_auth_method"] == "private_key_jwt"
        assert client.client_secret is None
        client.delete_registration()
    with pytest.raises(ClientNotUsableError):
        AgentClient(store, "pkjwt").get_access_token()


def test_registration_with_a_required_initial_access_token(store: Store, protected_oidc: OidcProvider) -> None:
    add_client(store, protected_oidc.issuer, "protected")
    error = refused_and_unchanged(store, "protected", RegistrationError)  # no initial access token set
    assert isinstance(error, RegistrationError) and error.status_code == 401

    with store.session() as session:
        server = ServerDefinition.OpenByIssuer(session, protected_oidc.issuer)
        assert server is not None
        server.initial_access_token = "a-wrong-initial-access-token"
    error = refused_and_unchanged(store, "protected", RegistrationError)
    assert "a-wrong-initial-access-token" not in str(error)

    with store.session() as session:
        server = ServerDefinition.OpenByIssuer(session, protected_oidc.issuer)
        assert server is not None
        server.initial_access_token = protected_oidc.initial_access_token
    document = register(store, "protected")
    agent = AgentClient(store, "protected")
    assert agent.introspect(agent.get_access_token())["client_id"] == document["client_id"]


# -- refusals leave the store as it was ------------------------------------------------------------------------


def test_refused_redirect_uri_leaves_the_store_unchanged(store: Store, oidc: OidcProvider) -> None:
    add_client(store, oidc.issuer, "bad-redirect", redirect_uris=["https://app.example.com/cb#fragment"])
    error = refused_and_unchanged(store, "bad-redirect", RegistrationError)
    assert isinstance(error, RegistrationError)
    assert error.error == "invalid_redirect_uri" and error.status_code == 400 and error.error_description


def test_refused_client_metadata_leaves_the_store_unchanged(store: Store, oidc: OidcProvider) -> None:
    # The provider signs client_secret_jwt assertions with HS256 only.
    add_client(store, oidc.issuer, "bad-alg", "client_secret_jwt", token_endpoint_auth_signing_alg="HS512")
    error = refused_and_unchanged(store, "bad-alg", RegistrationError)
    assert isinstance(error, RegistrationError) and error.error == "invalid_client_metadata"
    assert "token_endpoint_auth_signing_alg" in str(error)


def test_no_registration_endpoint(store: Store) -> None:
    with store.session() as session:
        session.add(new_client(new_server(), application_name="static"))
    error = refused_and_unchanged(store, "static", ValidationError)
    assert isinstance(error, ValidationError)
    assert error.problems[0].code == 8881
    assert error.fields == ("server_definition.server_metadata.registration_endpoint",)


def test_an_insecure_registration_endpoint_is_refused_before_any_request(store: Store) -> None:
    server = new_server()
    server.server_metadata.registration_endpoint = "http://as.example.com/reg"
    with store.session() as session:
        session.add(new_client(server, application_name="insecure", client_id=None, client_secret=None))
    refused_and_unchanged(store, "insecure", InsecureEndpointError)


def test_register_refuses_a_registered_client_and_management_needs_one(store: Store, oidc: OidcProvider) -> None:
    add_client(store, oidc.issuer, "twice")
    for call in ("read_registration", "update_registration", "delete_registration"):
        error = refused_and_unchanged(store, "twice", ValidationError, call)
        assert "register()" in str(error)
    register(store, "twice")
    error = refused_and_unchanged(store, "twice", ValidationError)
    assert isinstance(error, ValidationError) and error.fields == ("client_id",)


def test_private_key_jwt_without_keys_is_refused_before_any_request(store: Store, oidc: OidcProvider) -> None:
    with store.session() as session:
        server = ServerDefinition.discover(session, oidc.issuer)
        client = Client(application_name="keyless", client_type="confidential", server_definition=server)
        client.client_metadata.token_endpoint_auth_method = "private_key_jwt"
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
    refused_and_unchanged(store, "keyless", KeyMaterialError)


def test_wrong_registration_access_token_leaves_the_store_unchanged(store: Store, oidc: OidcProvider) -> None:
    add_client(store, oidc.issuer, "wrong-token")
    register(store, "wrong-token")
    AgentClient(store, "wrong-token").get_access_token()  # a stored token, which a failed delete must keep
    with store.session() as session:
        client = Client.Open(session, "wrong-token")
        assert client is not None
        client.client_metadata.registration_access_token = "not-the-registration-access-token"
    for call in ("read_registration", "update_registration", "delete_registration"):
        error = refused_and_unchanged(store, "wrong-token", RegistrationError, call)
        assert isinstance(error, RegistrationError) and error.error == "invalid_token" and error.status_code == 401
        assert "not-the-registration-access-token" not in str(error)
    assert rows(store, "wrong-token")["OAuth2_AccessToken"]


# -- faults a real server will not produce ---------------------------------------------------------------------


def _fault_client(store: Store, url: str, name: str) -> None:
    server = new_server(issuer_endpoint=url)
    server.server_metadata.registration_endpoint = f"{url}/reg"
    with store.session() as session:
        client = new_client(server, application_name=name, client_id=None, client_secret=None)
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)


def _answers(reply: Reply) -> Any:
    def handler(request: Seen) -> Reply:
        return reply if request.method == "POST" else Reply(204)

    return handler


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, {"error": "server_error"}), TransportError),
        (Reply(201, "<html>registered</html>"), ProtocolError),
        (Reply(201, ["not", "an", "object"]), ProtocolError),
        (Reply(201, {"client_secret": "s"}), ProtocolError),  # no client_id
        (Reply(400, "Bad Request"), ProtocolError),  # no RFC 7591 error object
        (Reply(302, "", {"Location": "/elsewhere"}), ProtocolError),
    ],
    ids=["500", "html", "array", "no-client-id", "400-plain", "redirect"],
)
def test_faulty_answers_leave_the_store_unchanged(store: Store, reply: Reply, error: type[Exception]) -> None:
    with serve(_answers(reply)) as fault:
        _fault_client(store, fault.url, "faulty")
        refused_and_unchanged(store, "faulty", error)
        assert [seen.method for seen in fault.seen] == ["POST"]  # a create is never retried


def test_an_answer_that_cannot_be_stored_is_deleted_at_the_server(store: Store) -> None:
    def handler(request: Seen) -> Reply:
        if request.method == "DELETE":
            return Reply(204)
        issued = {"client_id": "issued", "client_secret": "issued-secret", "client_secret_expires_at": 0}
        management = {"registration_access_token": "rat", "registration_client_uri": f"{fault.url}/reg/issued"}
        unstorable = {"token_endpoint_auth_method": "tls_client_auth"}  # no such method here
        return Reply(201, {**issued, **unstorable, **management})

    with serve(handler) as fault:
        _fault_client(store, fault.url, "unstorable")
        error = refused_and_unchanged(store, "unstorable", ProtocolError)
        assert "token_endpoint_auth_method" in str(error) and "issued-secret" not in str(error)
    assert [(seen.method, seen.path) for seen in fault.seen] == [("POST", "/reg"), ("DELETE", "/reg/issued")]


def test_a_storable_looking_answer_refused_on_save_rolls_back_and_deletes_the_orphan(store: Store) -> None:
    # A confidential client_secret_basic client needs a secret; the server issues none. The values pass the
    # member checks, are written, and the flush's validation fails: the savepoint must undo every write.
    def handler(request: Seen) -> Reply:
        if request.method == "DELETE":
            return Reply(204)
        issued = {"client_id": "issued", "client_name": "changed by the server"}
        management = {"registration_access_token": "rat", "registration_client_uri": f"{fault.url}/reg/issued"}
        return Reply(201, {**issued, **management})

    with serve(handler) as fault:
        _fault_client(store, fault.url, "no-secret")
        error = refused_and_unchanged(store, "no-secret", ValidationError)
        assert isinstance(error, ValidationError) and "client_secret" in error.fields
        assert [(seen.method, seen.path) for seen in fault.seen] == [("POST", "/reg"), ("DELETE", "/reg/issued")]
        assert fault.seen[1].headers["Authorization"] == "Bearer rat"
    with store.session() as session:
        client = Client.Open(session, "no-secret")
        assert client is not None and client.client_id is None and client.client_metadata.client_name is None


def test_what_is_sent(store: Store) -> None:
    """The request on the wire: JSON, the initial access token as bearer, the redirect URI, no secret, no defaults."""
    issued = {"client_id": "issued", "client_secret": "issued-secret", "client_secret_expires_at": 0}
    with serve(lambda request: Reply(201, issued)) as fault:
        server = new_server(issuer_endpoint=fault.url, initial_access_token="the-initial-token")
        server.server_metadata.registration_endpoint = f"{fault.url}/reg"
        with store.session() as session:
            session.add(new_client(server, application_name="sent", client_id=None, client_secret=None))
        register(store, "sent")
        (seen,) = fault.seen
    assert seen.headers["Authorization"] == "Bearer the-initial-token"
    assert seen.headers["Content-Type"] == "application/json"
    body = json.loads(seen.body)
    assert body == {
        "redirect_uris": ["https://app.example.com/oauth2/callback"],
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "RS256",
        "request_object_signing_alg": "RS256",
        "userinfo_signed_response_alg": "RS256",
        "access_token_signed_response_alg": "RS256",
    }
    with store.session() as session:
        client = Client.Open(session, "sent")
        assert client is not None and client.client_id == "issued" and client.client_secret == "issued-secret"
        assert client.client_metadata.registration_access_token is None  # this server offers no RFC 7592


def test_concurrent_registrations_of_one_client_register_it_once(store: Store) -> None:
    issued = {"client_id": "issued", "client_secret": "issued-secret", "client_secret_expires_at": 0}
    with serve(lambda request: Reply(201, issued, delay=0.3)) as fault:
        _fault_client(store, fault.url, "raced")
        outcomes: list[str] = []
        start = threading.Barrier(2)

        def attempt() -> None:
            start.wait()
            try:
                register(store, "raced", write=True)
                outcomes.append("registered")
            except ValidationError as exc:
                outcomes.append("refused: " + ",".join(exc.fields))

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["refused: client_id", "registered"]
        assert len(fault.seen) == 1


# -- an expired secret ------------------------------------------------------------------------------------------


def test_an_expired_secret_is_refused_before_any_request(store: Store) -> None:
    expires = int(datetime.now(UTC).timestamp()) + 3600
    with serve(lambda request: Reply(500)) as fault:
        with store.session() as session:
            client = new_client(new_server(issuer_endpoint=fault.url), application_name="expiring")
            client.client_metadata.client_secret_expires_at = expires
            session.add(client)
        now = [expires - 10.0]
        agent = AgentClient(store, "expiring", clock=lambda: now[0])  # still valid: it loads
        now[0] = expires + 1.0
        with pytest.raises(ClientNotUsableError, match=r"client_secret expired at .*client_secret_expires_at"):
            agent.get_access_token()
        with store.session() as session:
            client = Client.Open(session, "expiring")
            assert client is not None
            client.client_metadata.client_secret_expires_at = expires - 7200  # an hour ago
        with pytest.raises(ClientNotUsableError, match="expired"):
            AgentClient(store, "expiring").get_access_token()
        with store.session() as session:
            client = Client.Open(session, "expiring")
            assert client is not None
            with pytest.raises(ClientNotUsableError, match="expired"):
                client.introspect("some-token")
    assert fault.seen == []


def test_secret_expiry_rule() -> None:
    assert secret_expiry_problem(0, "client_secret_basic", 10**10) is None  # 0 = never
    assert secret_expiry_problem(None, "client_secret_post", 10**10) is None
    assert secret_expiry_problem(100, "client_secret_jwt", 99.0) is None
    assert secret_expiry_problem(100, "private_key_jwt", 200.0) is None  # signs without the secret
    problem = secret_expiry_problem(100, "client_secret_basic", 100.0)
    assert problem is not None and "1970-01-01T00:01:40Z" in problem


# -- pure request building and response processing ---------------------------------------------------------------


def test_build_request_leaves_out_what_a_server_would_refuse() -> None:
    members = {
        "client_name": "svc",
        "contacts": [],
        "client_uri": "",
        "default_max_age": None,
        "require_auth_time": False,
        "grant_types": ["client_credentials"],
        "response_types": None,
        "token_endpoint_auth_method": "client_secret_basic",
        "token_endpoint_auth_signing_alg": "RS256",
        "id_token_encrypted_response_alg": "none",
        "id_token_encrypted_response_enc": "A128CBC-HS256",
        "userinfo_encrypted_response_alg": "RSA-OAEP",
        "userinfo_encrypted_response_enc": "none",
        "access_token_encrypted_response_alg": None,
        "access_token_encrypted_response_enc": "A256CBC-HS512",
        "request_object_encryption_alg": "none",
        "request_object_encryption_enc": "none",
        "request_object_signing_alg": "none",
        "userinfo_signed_response_alg": "none",
        "client_secret": "never-sent",
        "client_id_issued_at": 1,
        "client_secret_expires_at": 0,
        "registration_access_token": "rat",
        "registration_client_uri": "https://as/reg/1",
        "jwks": {"keys": [{"kid": "stale"}]},
        "redirect_uris": ["https://b/cb", "https://a/cb"],
    }
    body = build_registration_request(members, redirect_uri="https://a/cb", jwks={"keys": [{"kid": "now"}]})
    assert body == {
        "client_name": "svc",
        "require_auth_time": False,
        "grant_types": ["client_credentials"],
        "response_types": [],  # no redirect grant: no response type, rather than the RFC default "code"
        "token_endpoint_auth_method": "client_secret_basic",
        "userinfo_encrypted_response_alg": "RSA-OAEP",
        "request_object_signing_alg": "none",
        "redirect_uris": ["https://a/cb", "https://b/cb"],
        "jwks": {"keys": [{"kid": "now"}]},
    }


def test_build_request_signing_alg_jwks_uri_and_update() -> None:
    pk = {
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "jwks_uri": "https://app/jwks",
        "grant_types": ["authorization_code"],
    }
    body = build_registration_request(pk, jwks={"keys": [{"kid": "k"}]}, client_id="c1")
    assert body == {**pk, "client_id": "c1"}  # jwks_uri wins over jwks; code flow: response_types left to the server
    hs = {"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS384"}
    assert build_registration_request(hs) == hs
    hs_wrong = {"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}
    assert build_registration_request(hs_wrong) == {"token_endpoint_auth_method": "client_secret_jwt"}
    client_credentials = {"response_types": [], "grant_types": ["client_credentials"]}
    assert build_registration_request(client_credentials) == {
        "grant_types": ["client_credentials"],
        "response_types": [],
    }
    assert "jwks" not in build_registration_request({}, jwks={"keys": []})


def process(response: HttpResponse, **options: Any) -> RegistrationResponse:
    """process_registration_response with the rules of a stored client and its metadata members."""
    return process_registration_response(response, registration_rules(Client), **options)


def _response(status: int, body: Any) -> HttpResponse:
    return HttpResponse("https://as.example.com/reg", status, {}, json.dumps(body).encode())


def test_process_response_checks_and_merges_known_members() -> None:
    issued = {"client_id": "c1", "client_secret": "s3cr3t", "client_id_issued_at": 5, "client_secret_expires_at": 0}
    management = {"registration_access_token": "t0k3n", "registration_client_uri": "https://as.example.com/reg/c1"}
    members = {"client_name": "svc", "contacts": [], "software_id": "unknown members are ignored", "jwks": {}}
    answer = process(_response(201, {**issued, **management, **members}))
    assert answer.metadata == {"client_name": "svc", "contacts": None, "jwks": None}
    assert answer.document["software_id"] and "client_secret" not in answer.document
    assert "s3cr3t" not in repr(answer) and "t0k3n" not in repr(answer)
    assert isinstance(answer, RegistrationResponse) and answer.client_secret == "s3cr3t"

    with pytest.raises(ProtocolError, match="client_id: must stay 'c1'"):
        process(_response(200, {"client_id": "c2"}), client_id="c1")
    with pytest.raises(ProtocolError, match="client_secret_expires_at: must be a non-negative integer"):
        process(_response(201, {"client_id": "c", "client_secret_expires_at": "never"}))
    with pytest.raises(ProtocolError, match="default_max_age") as caught:
        process(_response(201, {"client_id": "c", "default_max_age": "1h", "registration_access_token": 7}))
    assert "registration_access_token" in str(caught.value)
    with pytest.raises(RegistrationError) as refused:
        process(_response(400, {"error": "invalid_software_statement", "error_description": "expired"}))
    assert refused.value.error == "invalid_software_statement" and refused.value.error_description == "expired"
    challenge = HttpResponse(
        "https://as.example.com/reg",
        401,
        {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="gone"'},
        b"",
    )
    with pytest.raises(RegistrationError) as unauthorized:
        process(challenge)
    assert (unauthorized.value.error, unauthorized.value.error_description) == ("invalid_token", "gone")
