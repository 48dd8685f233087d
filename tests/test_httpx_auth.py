"""oauth2store.httpx_auth.TokenAuth against a loopback resource server that introspects every token at the real
oidc-provider: the token is sent, a token revoked behind the store's back is renewed once (for one request or a
hundred), other refusals are answered as they are; and the package without httpx."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from oidc_provider import OidcProvider  # noqa: E402
from resource_server import ResourceServer  # noqa: E402

from oauth2store import (  # noqa: E402
    AgentClient,
    AsyncAgentClient,
    Client,
    ProtocolError,
    ServerDefinition,
    Store,
    Token,
)
from oauth2store.httpx_auth import TokenAuth  # noqa: E402

SECRET = "an-httpx-client-secret-0123456789"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client_id(oidc: OidcProvider) -> str:
    registered: str = oidc.register(client_secret=SECRET)["client_id"]
    return registered


@pytest.fixture
def service(store: Store, oidc: OidcProvider, client_id: str) -> Store:
    with store.session() as session:
        server = ServerDefinition.discover(session, oidc.issuer)
        client = Client(
            application_name="svc",
            client_type="confidential",
            client_id=client_id,
            client_secret=SECRET,
            server_definition=server,
        )
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
    return store


@pytest.fixture
def api(oidc: OidcProvider) -> Iterator[ResourceServer]:
    with ResourceServer(oidc) as server:
        yield server


def requests_by(oidc: OidcProvider, client_id: str) -> int:
    return oidc.token_requests().get(client_id, 0)


def test_requests_carry_the_stored_token(
    service: Store, api: ResourceServer, oidc: OidcProvider, client_id: str
) -> None:
    agent = AgentClient(service, "svc")
    with httpx.Client(auth=TokenAuth(agent)) as http:
        answers = [http.get(f"{api.resource}/orders/{n}") for n in range(3)]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert api.seen_tokens == [agent.get_access_token()] * 3
    assert requests_by(oidc, client_id) == 1


def test_a_token_revoked_behind_the_store_is_renewed_once_and_the_request_sent_again(
    service: Store, api: ResourceServer, oidc: OidcProvider, client_id: str
) -> None:
    agent = AgentClient(service, "svc")
    refused = agent.get_access_token()
    api.revoke(refused, client_id, SECRET)
    with httpx.Client(auth=TokenAuth(agent)) as http:
        answer = http.post(f"{api.resource}/orders", content=b'{"item": 1}')
    assert answer.status_code == 200 and answer.json()["body"] == '{"item": 1}'  # the body was sent again
    assert [response.status_code for response in answer.history] == [401]
    renewed = agent.get_access_token()
    assert api.seen_tokens == [refused, renewed] and renewed != refused
    assert requests_by(oidc, client_id) == 2
    assert AgentClient(service, "svc").get_access_token() == renewed  # the store holds the new one


def test_a_hundred_tasks_refused_the_same_token_cause_one_renewal(
    service: Store, api: ResourceServer, oidc: OidcProvider, client_id: str
) -> None:
    async def main() -> list[int]:
        agent = await AsyncAgentClient.open(service, "svc")
        api.revoke(await agent.get_access_token(), client_id, SECRET)
        async with httpx.AsyncClient(auth=TokenAuth(agent), timeout=60) as http:
            answers = await asyncio.gather(*(http.get(f"{api.resource}/orders/{n}") for n in range(100)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(main()) == [200] * 100
    assert requests_by(oidc, client_id) == 2
    assert len(set(api.seen_tokens)) == 2


def test_a_second_refusal_is_the_answer(
    service: Store, api: ResourceServer, oidc: OidcProvider, client_id: str
) -> None:
    agent = AgentClient(service, "svc")
    api.refusal = api.challenge("invalid_token")  # a resource that refuses every token
    with httpx.Client(auth=TokenAuth(agent)) as http:
        answer = http.get(api.resource)
    assert answer.status_code == 401 and len(answer.history) == 1
    assert requests_by(oidc, client_id) == 2


@pytest.mark.parametrize(
    "challenge",
    ['Bearer error="insufficient_scope", scope="admin"', "Bearer", 'DPoP error="invalid_token"', 'Basic realm="x"'],
)
def test_other_refusals_do_not_renew(
    service: Store, api: ResourceServer, oidc: OidcProvider, client_id: str, challenge: str
) -> None:
    agent = AgentClient(service, "svc")
    token = agent.get_access_token()
    api.refusal = challenge
    with httpx.Client(auth=TokenAuth(agent)) as http:
        answer = http.get(api.resource)
    assert answer.status_code == 401 and answer.history == []
    assert api.seen_tokens == [token]
    assert agent.get_access_token() == token and requests_by(oidc, client_id) == 1


def test_sync_and_async_sources_serve_their_own_clients(service: Store, api: ResourceServer) -> None:
    agent = AgentClient(service, "svc")

    async def from_a_loop() -> None:
        async with httpx.AsyncClient(auth=TokenAuth(agent)) as http:
            await http.get(api.resource)

    with pytest.raises(TypeError, match="block the event loop"):
        asyncio.run(from_a_loop())
    with httpx.Client(auth=TokenAuth(AsyncAgentClient(agent))) as http, pytest.raises(TypeError, match="is async"):
        http.get(api.resource)
    with httpx.Client(auth=TokenAuth(AsyncAgentClient(agent).agent)) as http:
        assert http.get(api.resource).status_code == 200


class DPoPSource:
    """A source whose tokens are DPoP-bound (RFC 9449), which TokenAuth cannot send yet."""

    def get_token(self, scope: object = None, *, resource: object = None) -> Token:
        return Token("bound-token", "DPoP", datetime.now(UTC) + timedelta(minutes=5))

    def invalidate(self, token: Token | str) -> bool:
        return False


def test_a_token_that_is_not_a_bearer_token_is_never_sent(api: ResourceServer) -> None:
    with httpx.Client(auth=TokenAuth(DPoPSource())) as http, pytest.raises(ProtocolError, match="'DPoP'"):
        http.get(api.resource)
    assert api.seen == []


_WITHOUT_HTTPX = """
import sys
sys.modules["httpx"] = None  # as if it were not installed
import oauth2store
assert "httpx" not in {name for name, module in sys.modules.items() if module is not None}
try:
    import oauth2store.httpx_auth
except ImportError as exc:
    print(exc)
"""


def test_the_package_works_without_httpx_and_says_how_to_get_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_HTTPX], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    assert "pip install 'oauth2store[httpx]'" in done.stdout


def test_importing_the_package_does_not_import_httpx() -> None:
    code = "import sys, oauth2store; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"
