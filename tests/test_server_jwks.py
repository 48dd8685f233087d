"""The server-JWKS protocol on plain values: parsed key sets, and the per-store unknown-`kid` refresh state."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import rsa_key

from oauth2store import JWKSError, Store, generate_store_key
from oauth2store._jwx import jwk
from oauth2store._jwx.jwk import KeySet
from oauth2store._server_jwks import UnknownKidRefreshes, parsed_key_set
from oauth2store._state import state_of


def public(kid: str) -> dict[str, str]:
    return {**jwk.public_jwk(rsa_key().public_key()), "kid": kid}


def test_a_jwks_edited_in_place_is_parsed_again() -> None:
    jwks = {"keys": [public("a")]}
    assert "a" in parsed_key_set(jwks)
    jwks["keys"].append(public("b"))
    assert "b" in parsed_key_set(jwks)
    jwks["keys"].clear()
    assert "a" not in parsed_key_set(jwks)


def test_parsed_key_sets_are_shared_by_content() -> None:
    jwks = {"keys": [public("a")]}
    assert parsed_key_set(jwks) is parsed_key_set({"keys": [dict(jwks["keys"][0])]})


def test_one_forced_refresh_per_issuer_per_cooldown_and_failures_count() -> None:
    refreshes = UnknownKidRefreshes(cooldown=30)
    calls: list[str] = []

    def refresh() -> KeySet:
        calls.append("refresh")
        raise JWKSError("down")

    with pytest.raises(JWKSError):
        refreshes.keys_for("https://a", "k", refresh, now=100)
    assert refreshes.keys_for("https://a", "k", refresh, now=129) is None  # the failed attempt counts
    with pytest.raises(JWKSError):
        refreshes.keys_for("https://b", "k", refresh, now=129)  # another issuer has its own cooldown
    fresh = KeySet({"keys": [public("k")]})
    assert refreshes.keys_for("https://a", "k", lambda: fresh, now=130) is fresh
    assert refreshes.keys_for("https://a", "k", refresh, now=131) is fresh  # shared with later callers
    assert calls == ["refresh", "refresh"]


def test_the_refresh_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(UnknownKidRefreshes, "SIZE", 3)
    refreshes = UnknownKidRefreshes()
    empty = KeySet({"keys": []})
    for issuer in range(10):
        refreshes.keys_for(f"https://{issuer}", "k", lambda: empty, now=0)
    assert len(refreshes._issuers) == 3


def test_each_store_has_its_own_refresh_state(tmp_path: Path) -> None:
    with (
        Store(f"sqlite:///{tmp_path / 'a.db'}", key=generate_store_key()) as first,
        Store(f"sqlite:///{tmp_path / 'b.db'}", key=generate_store_key()) as second,
    ):
        first.upgrade()
        mine = state_of(first.engine).get(UnknownKidRefreshes)
        with first.session() as session:
            assert state_of(session).get(UnknownKidRefreshes) is mine
        assert state_of(second.engine).get(UnknownKidRefreshes) is not mine
