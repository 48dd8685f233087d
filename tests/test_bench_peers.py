"""bench/bench_peers.py --quick runs to its table: oauth2store always, the peers that are installed (the `bench`
extra, which CI does not install) next to it, and a peer that is not installed is reported so. Nothing is timed."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "bench_peers.py"
PEERS: dict[str, tuple[str, ...]] = {
    "msal": ("msal",),
    "msal+extensions": ("msal", "msal_extensions"),
    "authlib": ("authlib",),
    "requests-oauth2client": ("requests_oauth2client",),
}
SECRET = "bench-peers-smoke-secret"


def run_bench(*args: str, path: tuple[str, ...] = ()) -> str:
    pythonpath = os.pathsep.join([*path, str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath, "BENCH_PEERS_SECRET": SECRET}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    return done.stdout


def row(output: str, library: str) -> list[str]:
    """The cells of the library's row in the printed table."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == library:
            return cells
    raise AssertionError(f"no row for {library} in:\n{output}")


def assert_measured(cells: list[str]) -> None:
    warm, token_requests = cells[1], cells[9]
    assert float(warm) > 0
    assert int(token_requests) >= 1


def installed(modules: tuple[str, ...]) -> bool:
    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError:
        return False
    return True


def test_oauth2store_is_measured_and_missing_peers_are_reported(tmp_path: Path) -> None:
    for module in {module for modules in PEERS.values() for module in modules}:  # as without the bench extra
        (tmp_path / module).mkdir()
        (tmp_path / module / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    output = run_bench(path=(str(tmp_path),))
    assert_measured(row(output, "oauth2store"))
    for peer in PEERS:
        assert row(output, peer)[1].startswith("not installed")


def test_installed_peers_are_measured_next_to_oauth2store() -> None:
    peers = [peer for peer, modules in PEERS.items() if installed(modules)]
    if not peers:
        pytest.skip("no peer installed (pip install -e '.[bench]')")
    output = run_bench("--library", "oauth2store", *[argument for peer in peers for argument in ("--library", peer)])
    for library in ["oauth2store", *peers]:
        assert_measured(row(output, library))
