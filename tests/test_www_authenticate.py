"""WWW-Authenticate parsing: the RFCs' own examples, several challenges and headers, and text that is not a challenge
(parsed as far as it reads, never an error)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oauth2store._www_authenticate import Challenge, find_challenge, parse_challenges


def test_rfc_6750_invalid_token() -> None:
    header = 'Bearer realm="example", error="invalid_token", error_description="The access token expired"'
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {"realm": "example", "error": "invalid_token", "error_description": "The access token expired"},
        )
    ]


def test_rfc_9728_resource_metadata() -> None:
    header = 'Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"'
    (challenge,) = parse_challenges([header])
    assert challenge.params == {
        "resource_metadata": "https://resource.example.com/.well-known/oauth-protected-resource"
    }


def test_rfc_9110_two_challenges_in_one_header_with_escapes() -> None:
    header = 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    assert parse_challenges([header]) == [
        Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        Challenge("basic", {"realm": "simple"}),
    ]


def test_token68_bare_schemes_and_several_headers() -> None:
    found = parse_challenges(["Negotiate abc+/de==, Bearer", 'DPoP error="use_dpop_nonce", algs="ES256 PS256"'])
    assert found == [
        Challenge("negotiate", {}, "abc+/de=="),
        Challenge("bearer"),
        Challenge("dpop", {"error": "use_dpop_nonce", "algs": "ES256 PS256"}),
    ]
    assert find_challenge(found, "DPoP") == found[2]
    assert find_challenge(found, "basic") is None


def test_names_are_case_insensitive_and_the_first_of_a_repeated_parameter_counts() -> None:
    (challenge,) = parse_challenges(['BEARER Error = "invalid_token" , error="other"'])
    assert challenge == Challenge("bearer", {"error": "invalid_token"})


def test_what_does_not_parse_ends_that_header() -> None:
    assert parse_challenges(['Bearer error="unterminated']) == [Challenge("bearer")]
    assert parse_challenges(['"quoted" Bearer', ""]) == []
    assert parse_challenges(['Bearer error="invalid_token", @bad, Basic realm="x"']) == [
        Challenge("bearer", {"error": "invalid_token"})
    ]


@given(st.lists(st.text(alphabet='Bearer a=b,"\\ \t=/+x', max_size=60) | st.text(max_size=20), max_size=4))
def test_any_text_parses_without_error(values: list[str]) -> None:
    for challenge in parse_challenges(values):
        assert challenge.scheme == challenge.scheme.lower() and challenge.scheme
