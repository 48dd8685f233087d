"""Client-assertion signing: the hand-written signer against python-jose's, keys parsed once, same process.

    python bench/bench_jws.py [--seconds 1.5]

For RS256, PS256 and ES256 (RSA-2048, P-256), signing a typical private_key_jwt assertion (best of five rounds
taken in turn):
- ours: `oauth2store._jwx.jws.sign` with a `cryptography` private key in hand
- python-jose: `jose.jws.sign` with its key object constructed once (python-jose has no PS256)
- bare: the `cryptography` signature of the same signing input (the floor: the key's math alone)

Prints figures and ratios (time per signature, so lower is better); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from jose import jwk as jose_jwk
from jose import jws as jose_jws
from jose.exceptions import JOSEError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oauth2store._jwx import jwk, jws

CLAIMS = {
    "iss": "orders",
    "sub": "orders",
    "aud": "https://as.example.com/token",
    "jti": "4f1c0b6e1d2a4c399a770b9f3c8f2d11",
    "iat": 1767268800,
    "exp": 1767268860,
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second over about `seconds`."""
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            fn()
        calls += 20
    return calls / elapsed


def best_rates(contenders: dict[str, Callable[[], object]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """Each contender's best rate over `rounds` rounds taken in turn, so a busy moment hits them alike."""
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(rounds):
        for name, fn in contenders.items():
            best[name] = max(best[name], rate(fn, seconds / rounds))
    return best


def our_signer(alg: str, key: jwk.PrivateKey) -> Callable[[], str]:
    return lambda: jws.sign(CLAIMS, alg, key, kid="k1")


def bare_signer(alg: str, key: jwk.PrivateKey, message: bytes) -> Callable[[], bytes]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda: key.sign(message, ec.ECDSA(hashes.SHA256()))
    pad = padding.PKCS1v15() if alg == "RS256" else padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    return lambda: key.sign(message, pad, hashes.SHA256())


def jose_signer(alg: str, key: jwk.PrivateKey) -> Callable[[], object] | None:
    try:
        ready = jose_jwk.construct(jwk.private_jwk(key), alg)
    except JOSEError:
        return None  # python-jose has no key class for this algorithm
    return lambda: jose_jws.sign(CLAIMS, ready, headers={"kid": "k1"}, algorithm=alg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.5)
    seconds = parser.parse_args().seconds
    print(f"{'signatures/s':<12} {'ours':>10} {'python-jose':>12} {'bare':>10}   time: ours/jose  ours/bare")
    for alg in ("RS256", "PS256", "ES256"):
        key = jwk.generate_private_key(alg)
        token = jws.sign(CLAIMS, alg, key, kid="k1")
        contenders = {"ours": our_signer(alg, key), "bare": bare_signer(alg, key, token.rsplit(".", 1)[0].encode())}
        theirs = jose_signer(alg, key)
        if theirs is not None:
            contenders["jose"] = theirs
        rates = best_rates(contenders, seconds)
        ours, bare, jose_rate = rates["ours"], rates["bare"], rates.get("jose")
        versus = f"{jose_rate / ours:9.2f}x" if jose_rate else "      n/a"
        shown = f"{jose_rate:12.0f}" if jose_rate else f"{'cannot sign':>12}"
        print(f"{alg:<12} {ours:10.0f} {shown} {bare:10.0f}         {versus}  {bare / ours:9.2f}x")


if __name__ == "__main__":
    main()
