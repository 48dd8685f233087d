"""transport: https rule, retries with backoff and Retry-After, timeouts, redirects, size bound, TLS from config."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from factories import TestCA
from local_servers import Reply, Seen, serve

from oauth2store import InsecureEndpointError, ProtocolError, RetryPolicy, TlsSettings, TransportError
from oauth2store._errors import KeyMaterialError, url_without_query
from oauth2store._http.endpoints import check_endpoint, is_loopback
from oauth2store._http.transport import Transport, _retry_after
from oauth2store._http.values import parse_json_object


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def transport(**options: object) -> tuple[Transport, Sleeps]:
    sleeps = Sleeps()
    options.setdefault("rand", lambda: 1.0)
    return Transport(sleep=sleeps, **options), sleeps  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://as.example.com/token", True),
        ("http://127.0.0.1:8080/token", True),
        ("http://127.1.2.3/token", True),
        ("http://[::1]:9000/token", True),
        ("http://localhost/token", True),
        ("http://as.example.com/token", False),
        ("http://10.0.0.1/token", False),
        ("ftp://as.example.com/token", False),
        ("https:///no-host", False),
    ],
)
def test_only_https_or_loopback(url: str, allowed: bool) -> None:
    if allowed:
        check_endpoint(url)
    else:
        with pytest.raises(InsecureEndpointError) as caught:
            check_endpoint(url)
        assert "https" in str(caught.value)


def test_insecure_http_only_when_allowed_explicitly() -> None:
    check_endpoint("http://as.example.com/token", allow_insecure_http=True)
    assert not is_loopback("127.example.com")


def test_messages_drop_query_and_user_info() -> None:
    assert url_without_query("https://user:pw@as.example.com:8443/t?code=secret#x") == "https://as.example.com:8443/t"
    error = TransportError("https://as.example.com/t?token=abc", "timed out")
    assert "abc" not in str(error) and error.url == "https://as.example.com/t"


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=3.0, max_retry_after=10.0)
    assert [policy.delay(n, None, lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.delay(2, None, lambda: 0.25) == 0.25
    assert policy.delay(1, 4.0) == 4.0
    assert policy.delay(1, 120.0) == 10.0


def test_5xx_is_retried_then_succeeds() -> None:
    answers = iter([Reply(500), Reply(503), Reply(200, {"ok": True})])
    with serve(lambda _: next(answers)) as server:
        client, sleeps = transport(retry=RetryPolicy(attempts=3, base_delay=0.1))
        response = client.get(server.url + "/x")
    assert parse_json_object(response) == {"ok": True}
    assert sleeps.calls == [0.1, 0.2]
    assert len(server.seen) == 3


def test_429_honours_retry_after_capped() -> None:
    answers = iter([Reply(429, headers={"Retry-After": "7"}), Reply(429, headers={"Retry-After": "999"}), Reply(200)])
    with serve(lambda _: next(answers)) as server:
        client, sleeps = transport(retry=RetryPolicy(attempts=3, max_retry_after=20), deadline=60.0)
        assert client.post_form(server.url, {"a": "b"}).status_code == 200
    assert sleeps.calls == [7.0, 20.0]


def test_no_retry_starts_that_would_end_past_the_deadline() -> None:
    """A Retry-After longer than the time left ends the call at once, with the wait the server asked for."""
    with serve(lambda _: Reply(503, headers={"Retry-After": "30"})) as server:
        client, sleeps = transport(retry=RetryPolicy(attempts=3, max_retry_after=60), deadline=10.0)
        with pytest.raises(TransportError, match="HTTP 503 after 1 attempts") as raised:
            client.post_form(server.url, {})
    assert len(server.seen) == 1 and sleeps.calls == []
    assert raised.value.status_code == 503 and raised.value.retry_after == 30.0


@pytest.mark.parametrize("body", [b"", b"x" * 400], ids=["headers", "body"])
def test_a_dripping_server_is_cut_off_at_the_deadline(body: bytes) -> None:
    """A byte every 50 ms never trips a 2 s read timeout; the call's deadline ends it all the same."""
    with serve(lambda _: Reply(200, body + b"{}" * 200, drip=0.05)) as server:
        client, _ = transport(timeout=(2.0, 2.0), deadline=0.5, retry=RetryPolicy(attempts=3))
        with pytest.raises(TransportError, match="deadline"):
            client.post_form(server.url, {})
        deadline = time.monotonic() + 30
        while server.cut_short < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(server.seen) == 1  # no retry after the deadline
    assert server.cut_short == 1  # the answer (about 40 s of it) was cut short, not read to the end


def test_a_bounded_transport_ends_by_the_callers_moment() -> None:
    with serve(lambda _: Reply(200, b"{}" * 100, drip=0.05)) as server:
        client, _ = transport(timeout=(2.0, 2.0), deadline=60.0)
        bounded = client.bounded(time.monotonic() + 0.3)
        with pytest.raises(TransportError, match="deadline"):
            bounded.post_form(server.url, {})
    assert client.ends_by is None  # the original keeps its own deadline only


def test_retries_are_bounded_then_transport_error() -> None:
    with serve(lambda _: Reply(502)) as server:
        client, sleeps = transport(retry=RetryPolicy(attempts=3))
        with pytest.raises(TransportError, match="HTTP 502 after 3 attempts"):
            client.post_form(server.url + "/token?x=1", {})
    assert len(server.seen) == 3 and len(sleeps.calls) == 2


def test_4xx_is_never_retried() -> None:
    with serve(lambda _: Reply(400, {"error": "invalid_client"})) as server:
        client, sleeps = transport()
        assert client.post_form(server.url, {}).status_code == 400
    assert len(server.seen) == 1 and sleeps.calls == []


def test_slow_server_times_out_and_is_retried() -> None:
    with serve(lambda _: Reply(200, delay=1.0)) as server:
        client, sleeps = transport(timeout=(1.0, 0.2), retry=RetryPolicy(attempts=2))
        with pytest.raises(TransportError, match="timed out") as caught:
            client.get(server.url + "/slow?secret=1")
    assert "secret" not in str(caught.value)
    assert len(sleeps.calls) == 1


def test_connection_refused() -> None:
    with serve(lambda _: Reply(200)) as server:
        url = server.url
    client, _ = transport(retry=RetryPolicy(attempts=2))
    with pytest.raises(TransportError, match="connection failed"):
        client.get(url)


def test_redirect_to_another_host_is_refused() -> None:
    with serve(lambda _: Reply(302, headers={"Location": "http://localhost:1/elsewhere"})) as server:
        client, _ = transport()
        with pytest.raises(ProtocolError, match="redirect refused"):
            client.get(server.url + "/start")


def test_same_origin_get_redirect_is_followed_but_post_is_not() -> None:
    def handler(request: Seen) -> Reply:
        if request.path == "/start":
            return Reply(302, headers={"Location": "/end"})
        return Reply(200, {"path": request.path})

    with serve(handler) as server:
        client, _ = transport()
        assert parse_json_object(client.get(server.url + "/start")) == {"path": "/end"}
        with pytest.raises(ProtocolError):
            client.post_form(server.url + "/start", {})


def test_response_size_is_bounded() -> None:
    with serve(lambda _: Reply(200, b"x" * 5000)) as server:
        client, _ = transport(max_response_bytes=4096)
        with pytest.raises(ProtocolError, match="larger than 4096"):
            client.get(server.url)


def test_non_json_and_wrong_status_are_protocol_errors() -> None:
    with serve(lambda request: Reply(200 if request.path == "/html" else 204, "<html>")) as server:
        client, _ = transport()
        with pytest.raises(ProtocolError, match="not JSON"):
            parse_json_object(client.get(server.url + "/html"))
        with pytest.raises(ProtocolError, match="expected HTTP 200"):
            parse_json_object(client.get(server.url + "/empty"))


# -- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def https_url(ca: TestCA) -> Iterator[str]:
    with serve(lambda _: Reply(200, {"tls": True}), tls=ca.server_context()) as server:
        yield server.url


def test_tls_trusts_the_configured_ca_bundle(ca: TestCA, https_url: str) -> None:
    client, _ = transport(tls=TlsSettings("private", certificate_authorities=ca.pem))
    assert parse_json_object(client.get(https_url)) == {"tls": True}


def test_tls_default_uses_the_system_store_and_refuses_a_private_ca(https_url: str) -> None:
    client, _ = transport(tls=TlsSettings(), retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError, match="TLS"):
        client.get(https_url)


def test_tls_another_ca_is_refused(https_url: str) -> None:
    client, _ = transport(
        tls=TlsSettings("other", certificate_authorities=TestCA("other").pem), retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(TransportError, match="TLS"):
        client.get(https_url)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verify_peer_off(https_url: str) -> None:
    client, _ = transport(tls=TlsSettings("insecure", verify_peer=False))
    assert client.get(https_url).status_code == 200


def test_tls_client_certificate_with_encrypted_key(ca: TestCA) -> None:
    issued = ca.issue("orders-service", server=False)
    with serve(lambda _: Reply(200, {"mtls": True}), tls=ca.server_context(require_client_cert=True)) as server:
        without, _ = transport(
            tls=TlsSettings("no-cert", certificate_authorities=ca.pem), retry=RetryPolicy(attempts=1)
        )
        with pytest.raises(TransportError):
            without.get(server.url)
        settings = TlsSettings(
            "mtls",
            certificate_authorities=ca.pem,
            certificate=issued.certificate,
            private_key=issued.key_pem("key-password-0"),
            private_key_password="key-password-0",
        )
        with_cert, _ = transport(tls=settings)
        assert parse_json_object(with_cert.get(server.url)) == {"mtls": True}
    assert repr(settings) == "TlsSettings(name='mtls', verify_peer=True)"


def test_tls_wrong_key_password_is_key_material_error(ca: TestCA) -> None:
    issued = ca.issue("svc", server=False)
    settings = TlsSettings(
        "bad", certificate=issued.certificate, private_key=issued.key_pem("pw"), private_key_password="wrong"
    )
    client, _ = transport(tls=settings)
    with pytest.raises(KeyMaterialError, match="bad"):
        client.get("https://127.0.0.1:1/")


def test_tls_checks_the_host_name(ca: TestCA) -> None:
    with serve(lambda _: Reply(200, {}), tls=ca.server_context(hosts=("as.example.com",))) as server:
        client, _ = transport(tls=TlsSettings("private", certificate_authorities=ca.pem), retry=RetryPolicy(attempts=1))
        with pytest.raises(TransportError, match="TLS"):
            client.get(server.url)


# -- hostile Retry-After values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("infinity", None),
        ("1e400", None),
        ("-5", None),
        ("3.5", None),
        ("0x10", None),
        ("garbage", None),
        ("", None),
        ("9" * 5000, 30.0),
        ("12", 12.0),
        ("0", 0.0),
        ("99999999999999999999", 30.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 30.0),
        ("Mon, 01 Jan 2024 00:00:10 GMT", 10.0),
        ("Mon, 99 Foo 2024 99:99:99 GMT", None),
    ],
)
def test_retry_after_values_are_sane_seconds_or_absent(value: str, expected: float | None) -> None:
    now = 1704067200.0  # 2024-01-01T00:00:00Z
    seen = _retry_after({"Retry-After": value}, lambda: now)
    assert seen is None or (math.isfinite(seen) and seen >= 0)
    jitter = 0.1  # what the policy waits without a usable Retry-After: rand 0.5 times base_delay 0.2
    delay = RetryPolicy(max_retry_after=30.0).delay(1, seen, lambda: 0.5)
    assert delay == (jitter if expected is None else expected)


def test_retry_policy_never_sleeps_a_non_finite_or_negative_time() -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    for value in (float("nan"), float("inf"), float("-inf"), -1.0, 1e300):
        assert 0.0 <= policy.delay(1, value, lambda: 0.5) <= 30.0


def test_hostile_retry_after_from_a_server_is_capped() -> None:
    answers = iter(
        [
            Reply(503, headers={"Retry-After": "nan"}),
            Reply(429, headers={"Retry-After": "inf"}),
            Reply(503, headers={"Retry-After": "-7"}),
            Reply(200),
        ]
    )
    with serve(lambda _: next(answers)) as server:
        client, sleeps = transport(retry=RetryPolicy(attempts=4, base_delay=0.1, max_retry_after=20))
        assert client.get(server.url).status_code == 200
    assert all(0.0 <= s <= 20.0 for s in sleeps.calls) and len(sleeps.calls) == 3


# -- URLs that parsers read differently ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example:1234\\@127.0.0.1/token",  # urlsplit: 127.0.0.1; urllib3 (and so requests): evil.example
        "http://127.0.0.1\\@evil.example/token",
        "https://user:pw@as.example.com/token",
        "http://evil.example%2f@127.0.0.1/token",
        "http://127.0.0.1:80@evil.example/",
        "http://127.0.0.1/to ken",
        "http://127.0.0.1/\ttoken",
        "http://127.0.0.1/token\n",
        "http://127.0.0.1/\x00",
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/token",  # fullwidth digits: IDNA maps them to 127.0.0.1
        "https://[fe80::1%25eth0]/token",
        "http://[::1/token",
        "http://127.0.0.1:0/token",
        "https://as.example.com:99999/token",
        "https://as.example.com\u200b/token",
    ],
)
def test_ambiguous_urls_are_refused(url: str) -> None:
    with pytest.raises(InsecureEndpointError) as caught:
        check_endpoint(url, allow_insecure_http=True)
    assert "pw" not in str(caught.value)


def test_ambiguous_url_is_refused_before_any_request() -> None:
    with serve(lambda _: Reply(200, {})) as server:
        port = server.httpd.server_address[1]
        client, _ = transport()
        with pytest.raises(InsecureEndpointError, match="backslash"):
            client.post_form(f"http://127.0.0.1:{port}\\@127.0.0.1:{port}/token", {"client_secret": "s"})
    assert server.seen == []


# -- private addresses named by a remote issuer ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "issuer", "options", "allowed"),
    [
        ("https://10.0.0.5/token", "https://as.example.com", {}, False),
        ("https://169.254.169.254/latest/meta-data", "https://as.example.com", {}, False),
        ("https://[::ffff:127.0.0.1]/jwks", "https://as.example.com", {}, False),
        ("https://[fd00::1]/jwks", "https://as.example.com", {}, False),
        ("https://localhost/jwks", "https://as.example.com", {}, False),
        ("https://0.0.0.0/jwks", "https://as.example.com", {}, False),
        ("http://127.0.0.1:8080/token", "https://as.example.com", {}, False),
        ("http://127.0.0.1:8080/token", "https://as.example.com", {"allow_insecure_http": True}, False),
        (
            "http://127.0.0.1:8080/token",
            "https://as.example.com",
            {"allow_insecure_http": True, "allow_private_network": True},
            True,
        ),
        ("https://10.0.0.5/token", "https://as.example.com", {"allow_private_network": True}, True),
        ("https://10.0.0.5/token", "https://10.0.0.5", {}, True),  # the issuer's own host was chosen, not named
        ("https://10.0.0.6/token", "https://10.0.0.5", {}, False),
        ("http://127.0.0.1:8080/token", "http://127.0.0.1:9000", {}, True),  # a local issuer: development
        ("http://localhost:8080/token", "http://localhost:9000", {}, True),
        ("http://127.0.0.1:8080/token", None, {}, True),  # no issuer: a URL the caller chose
        ("https://93.184.216.34/token", "https://as.example.com", {}, True),
    ],
)
def test_private_addresses_only_for_local_issuers_or_when_allowed(
    url: str, issuer: str | None, options: dict[str, bool], allowed: bool
) -> None:
    if allowed:
        check_endpoint(url, issuer=issuer, **options)
    else:
        with pytest.raises(InsecureEndpointError):
            check_endpoint(url, issuer=issuer, **options)
