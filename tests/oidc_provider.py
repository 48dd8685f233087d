"""A real OAuth 2.0 / OpenID Connect authorization server on loopback, for tests.

Wraps ``tests/oidc/provider.mjs`` (the ``oidc-provider`` npm package) in a subprocess so the test suite
talks to a genuine, spec-conformant server instead of mocks. Usable directly or from pytest fixtures::

    with OidcProvider(clients=[{"client_id": "c1", "client_secret": "s1"}]) as op:
        requests.post(f"{op.issuer}/token", auth=("c1", "s1"), data={"grant_type": "client_credentials"})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from factories import generate_rsa_jwk

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
"""The private Node project holding provider.mjs and the pinned oidc-provider."""

DEFAULT_RESOURCE = "urn:test:api"
DEFAULT_TTL: dict[str, int] = {"ClientCredentials": 600, "AccessToken": 600}

# Python keyword -> key in the JSON config read by provider.mjs.
_CONFIG_KEYS: dict[str, str] = {
    "port": "port",
    "jwks": "jwks",
    "clients": "clients",
    "ttl": "ttl",
    "initial_access_token": "initialAccessToken",
    "resource": "resource",
    "resource_scope": "resourceScope",
    "client_defaults": "clientDefaults",
    "rotate_registration_access_token": "rotateRegistrationAccessToken",
    "sign_in": "signIn",
    "require_pushed_authorization_requests": "requirePushedAuthorizationRequests",
}

# Talk to loopback directly even if the environment sets HTTP(S)_PROXY.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _install_marker() -> Path:
    # npm (>=7) writes this hidden lockfile on every install, so its mtime is "when node_modules was made".
    return OIDC_DIR / "node_modules" / ".package-lock.json"


def _installed_from() -> Path:
    """Written after each install: the SHA-256 of the package-lock.json node_modules was installed from."""
    return OIDC_DIR / "node_modules" / ".oauth2store-installed-from"


def _lock_digest() -> str:
    return hashlib.sha256((OIDC_DIR / "package-lock.json").read_bytes()).hexdigest()


def _needs_install() -> bool:
    """node_modules is missing, or was installed from another package-lock.json.

    The lock's content decides where it is known (a fresh checkout of the same lock, e.g. a new git worktree
    whose node_modules links to another's, installs nothing); for an install that predates the record, its age.
    """
    marker = _install_marker()
    if not marker.exists():
        return True
    if _installed_from().exists():
        return _installed_from().read_text().strip() != _lock_digest()
    return marker.stat().st_mtime < (OIDC_DIR / "package-lock.json").stat().st_mtime


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialise ``npm ci`` across concurrent test processes (e.g. pytest-xdist workers)."""
    digest = hashlib.sha256(bytes(OIDC_DIR)).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"oauth2store-oidc-npm-{digest}.lock"
    with open(lock_path, "w") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX: best effort, no lock
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_installed(timeout: float = 300.0) -> None:
    """Run ``npm ci`` in tests/oidc when node_modules is missing or out of date (but never through a symlink)."""
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH: the OIDC provider tests need Node.js >= 20.18")
    if not _needs_install():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: cannot install tests/oidc (oidc-provider)")
    modules = OIDC_DIR / "node_modules"
    if modules.is_symlink():
        # `npm ci` would empty the linked directory, which other checkouts use too.
        raise RuntimeError(f"{modules} links to {modules.resolve()}, which is out of date: run `npm ci` there")
    with _install_lock():
        if not _needs_install():  # another process installed it while we waited
            return
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=OIDC_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"`npm ci` in {OIDC_DIR} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        _installed_from().write_text(_lock_digest() + "\n")


class OidcProvider:
    """A running oidc-provider on ``http://127.0.0.1:<port>``, started from a JSON config.

    Keys are generated once here (not by the provider) so :meth:`restart` keeps them unless told
    otherwise; the chosen port is remembered so the issuer stays the same across restarts.
    """

    def __init__(
        self,
        *,
        clients: Sequence[Mapping[str, Any]] = (),
        jwks: Mapping[str, Any] | None = None,
        ttl: Mapping[str, int] | None = None,
        initial_access_token: str | None = None,
        resource: str | None = DEFAULT_RESOURCE,
        resource_scope: str | None = None,
        client_defaults: Mapping[str, Any] | None = None,
        rotate_registration_access_token: bool | None = None,
        sign_in: bool | None = None,
        require_pushed_authorization_requests: bool | None = None,
        port: int = 0,
        startup_timeout: float = 20.0,
        start: bool = True,
    ) -> None:
        self.config: dict[str, Any] = {
            "port": port,
            "jwks": dict(jwks) if jwks is not None else {"keys": [generate_rsa_jwk()]},
            "clients": [dict(c) for c in clients],
            "ttl": dict(ttl) if ttl is not None else dict(DEFAULT_TTL),
            "initialAccessToken": initial_access_token,
            "resource": resource,
        }
        optional = {
            "resourceScope": resource_scope,
            "clientDefaults": dict(client_defaults) if client_defaults is not None else None,
            "rotateRegistrationAccessToken": rotate_registration_access_token,
            "signIn": sign_in,
            "requirePushedAuthorizationRequests": require_pushed_authorization_requests,
        }
        self.config.update({k: v for k, v in optional.items() if v is not None})
        self.startup_timeout = startup_timeout
        self._issuer: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._stderr: IO[str] | None = None
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the provider and block until it prints ``READY <issuer>`` (or raise with its stderr)."""
        if self.running:
            raise RuntimeError("OIDC provider already running")
        self.stop()  # reap a provider that died on its own
        ensure_installed()
        self._tmpdir = tempfile.TemporaryDirectory(prefix="oidc-provider-")
        config_path = Path(self._tmpdir.name) / "config.json"
        config_path.write_text(json.dumps(self.config))
        # stderr goes to a file: a pipe nobody reads would eventually block the provider.
        self._stderr = open(Path(self._tmpdir.name) / "stderr.log", "w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [shutil.which("node") or "node", str(OIDC_DIR / "provider.mjs"), str(config_path)],
            cwd=OIDC_DIR,
            # Held open and never written: provider.mjs exits on its EOF, i.e. when this process dies.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "OIDC_PROVIDER_EXIT_ON_STDIN_EOF": "1"},
        )
        try:
            self._issuer = self._await_ready(self._proc)
        except BaseException:
            self.stop()
            raise
        self.config["port"] = int(self._issuer.rsplit(":", 1)[1])

    def _await_ready(self, proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: IO[str]) -> None:  # keeps draining stdout for the process lifetime
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(proc.stdout,), daemon=True, name="oidc-provider-stdout").start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"OIDC provider not ready after {self.startup_timeout:g}s; stderr:\n{self.stderr()}")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                proc.wait(timeout=5)
                raise RuntimeError(
                    f"OIDC provider exited with {proc.returncode} before READY; stderr:\n{self.stderr()}"
                )
            if line.startswith("READY "):
                return line.split(" ", 1)[1].strip()

    def stop(self) -> None:
        """SIGTERM the provider (kill after 5 s) and drop its temp files; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def restart(self, **changes: Any) -> None:
        """Stop, apply config changes (same keywords as ``__init__``), start again on the same port.

        State held by the provider (issued tokens, dynamically registered clients) does not survive:
        it uses oidc-provider's in-memory adapter. Use ``jwks={"keys": [...]}`` to simulate key rotation.
        """
        unknown = set(changes) - set(_CONFIG_KEYS)
        if unknown:
            raise TypeError(f"unknown OIDC provider config: {sorted(unknown)}")
        self.stop()
        for name, value in changes.items():
            self.config[_CONFIG_KEYS[name]] = value
        self.start()

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- accessors ---------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:<port>``; identical across :meth:`restart`."""
        if self._issuer is None:
            raise RuntimeError("OIDC provider has not been started")
        return self._issuer

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def jwks(self) -> dict[str, Any]:
        """The provider's current private signing JWKS."""
        jwks: dict[str, Any] = self.config["jwks"]
        return jwks

    @property
    def resource(self) -> str | None:
        """Resource indicator for which JWT access tokens are issued (audience = this value)."""
        resource: str | None = self.config["resource"]
        return resource

    @property
    def ttl(self) -> dict[str, int]:
        """Token lifetimes in seconds, by oidc-provider model name (e.g. ``ClientCredentials``)."""
        ttl: dict[str, int] = self.config["ttl"]
        return ttl

    @property
    def initial_access_token(self) -> str | None:
        """The bearer token dynamic registration requires, or None when registration is open."""
        token: str | None = self.config["initialAccessToken"]
        return token

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def registration_endpoint(self) -> str:
        return f"{self.issuer}/reg"

    def stderr(self) -> str:
        """Everything the provider wrote to stderr so far (warnings, server_error traces)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        return Path(self._stderr.name).read_text(errors="replace")

    # -- clients -------------------------------------------------------------------------------------------------

    def register(self, **metadata: Any) -> dict[str, Any]:
        """Register a new client (RFC 7591) and return the provider's answer: ``client_id``, ``client_secret``, ...

        Unnamed members take the server's client defaults (client_credentials, client_secret_basic); the initial
        access token is sent when the provider requires one.
        """
        headers = {"Content-Type": "application/json"}
        if self.initial_access_token is not None:
            headers["Authorization"] = f"Bearer {self.initial_access_token}"
        body = json.dumps(metadata).encode()
        req = urllib.request.Request(self.registration_endpoint, data=body, headers=headers, method="POST")
        try:
            with _NO_PROXY_OPENER.open(req, timeout=5) as resp:
                status, answer = resp.status, resp.read()
        except urllib.error.HTTPError as refused:
            status, answer = refused.code, refused.read()
        if status != 201:
            raise RuntimeError(f"registration refused: HTTP {status} {answer.decode(errors='replace')}")
        registered: dict[str, Any] = json.loads(answer)
        return registered

    # -- test-only endpoints -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Token endpoint POSTs so far, counted before client authentication (failures count too).

        Shape: ``{"token_requests": {client_id: n, ...}, "total": n}``.
        """
        return self._test_call("GET", "/__test/stats")

    def token_requests(self) -> dict[str, int]:
        """Token endpoint POSTs so far, by client_id (see :meth:`stats`)."""
        counts: dict[str, int] = self.stats()["token_requests"]
        return counts

    def token_requests_since(self, before: Mapping[str, int]) -> dict[str, int]:
        """Token endpoint POSTs by client_id since :meth:`token_requests` returned `before` (clients without any
        left out): on a provider other tests use too, what one test caused, without resetting anyone's counters."""
        now = self.token_requests()
        return {
            client_id: count - before.get(client_id, 0)
            for client_id, count in now.items()
            if count != before.get(client_id, 0)
        }

    def reset_stats(self) -> None:
        """Zero the token endpoint counters."""
        self._test_call("POST", "/__test/reset")

    def _test_call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.issuer}{path}", method=method, data=b"" if method == "POST" else None)
        with _NO_PROXY_OPENER.open(req, timeout=5) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data


__all__ = [
    "DEFAULT_RESOURCE",
    "OIDC_DIR",
    "OidcProvider",
    "ensure_installed",
]

if __name__ == "__main__":  # pragma: no cover - manual poking: python tests/oidc_provider.py
    with OidcProvider() as _op:
        print(f"issuer {_op.issuer}; Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
