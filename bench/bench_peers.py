"""oauth2store's AgentClient against the client-credentials libraries users would pick instead, side by side against
the same loopback oidc-provider and interleaved round by round in one run: MSAL (in-memory cache, and msal-extensions'
persisted file cache), Authlib's OAuth2Session and requests-oauth2client.

Figures per library: the warm hit (a token already held), a fresh process's whole path to a token (import, then the
first token: from the persistent cache where the library has one, and cold), the token requests 8 processes x 200
calls make within one token lifetime (counted by the provider), and the memory of a process holding one token.

MSAL accepts only an https authority with a path segment, so every library talks to the provider through the same
small TLS front (a certificate of a throwaway CA), which serves the discovery document under any path.

Run from the repository root: python bench/bench_peers.py [--quick] [--library NAME ...]
The peers come from the `bench` extra (pip install -e '.[bench]'); a peer that is not installed is reported so.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET_VARIABLE = "BENCH_PEERS_SECRET"  # the clients' secret reaches the children here, never on a command line
SCOPE = "openid"  # the one scope the provider grants without a resource indicator; MSAL requires a scope
TOKEN_TTL = 600  # MSAL does not hand out a token within 5 minutes of its expiry, Authlib within 60 s (its leeway)
AUTHORITY_PATH = "/bench"  # MSAL wants a path segment in its authority; the front serves discovery under it

Getter = Callable[[], str]


@dataclass(frozen=True)
class Setup:
    """What a library needs to get a token; sent to the children as JSON (the secret goes in the environment)."""

    issuer: str  # the TLS front, https://127.0.0.1:port
    ca_file: str
    client_id: str
    cache_file: str  # msal-extensions' token cache file
    store_url: str  # oauth2store's store

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"


def client_secret() -> str:
    return os.environ[SECRET_VARIABLE]


# -- the libraries, each configured as its documentation recommends -------------------------------------------------


def oauth2store_getter(setup: Setup) -> Getter:
    # README "Tokens for services": AgentClient on a stored client; tokens are cached in the store (encrypted).
    from oauth2store import AgentClient, Store

    agent = AgentClient(Store(setup.store_url), setup.client_id)
    return lambda: agent.get_access_token(SCOPE)


def msal_getter(setup: Setup, *, persisted: bool) -> Getter:
    # https://learn.microsoft.com/entra/msal/python/ : ConfidentialClientApplication.acquire_token_for_client, which
    # "looks up the token cache" first (msal >= 1.23); a generic OIDC server is named with `oidc_authority=` (msal
    # >= 1.28). MSAL refuses an http authority and one without a path segment (msal.authority.canonicalize).
    import msal  # type: ignore[import-untyped]

    cache = None
    if persisted:
        # https://github.com/AzureAD/microsoft-authentication-extensions-for-python README: encrypted persistence
        # where the OS offers it (libsecret on Linux), else, opting in, a plain file.
        from msal_extensions import (  # type: ignore[import-untyped]
            FilePersistence,
            PersistedTokenCache,
            build_encrypted_persistence,
        )

        try:
            persistence = build_encrypted_persistence(setup.cache_file)
        except Exception:  # no libsecret (gi) here: the documented fallback to plain text
            persistence = FilePersistence(setup.cache_file)
        cache = PersistedTokenCache(persistence)
    app = msal.ConfidentialClientApplication(
        setup.client_id,
        client_credential=client_secret(),
        oidc_authority=setup.issuer + AUTHORITY_PATH,
        token_cache=cache,
        verify=setup.ca_file,
    )

    def get() -> str:
        result = app.acquire_token_for_client(scopes=[SCOPE])
        if "access_token" not in result:
            raise RuntimeError(f"MSAL: {result.get('error')}: {result.get('error_description')}")
        token: str = result["access_token"]
        return token

    return get


def authlib_getter(setup: Setup) -> Getter:
    # https://docs.authlib.org/en/latest/client/oauth2.html "Client Credentials" and "Auto Update Token": with
    # token_endpoint and grant_type given to the session, ensure_active_token() fetches a new token once the held
    # one is within `leeway` (60 s) of its expiry; before every request, OAuth2Session.request does the same.
    from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

    session = OAuth2Session(
        setup.client_id,
        client_secret(),
        scope=SCOPE,
        token_endpoint=setup.token_endpoint,
        grant_type="client_credentials",
    )
    session.verify = setup.ca_file

    def get() -> str:
        if session.token is None:
            session.fetch_token(setup.token_endpoint, grant_type="client_credentials")
        session.ensure_active_token(session.token)
        token: str = session.token["access_token"]
        return token

    return get


def requests_oauth2client_getter(setup: Setup) -> Getter:
    # https://guillp.github.io/requests_oauth2client/ "Client Credentials grant": OAuth2ClientCredentialsAuth as the
    # requests auth handler keeps the token and gets a new one once it is expired (leeway 20 s). requests calls the
    # handler on every request: here on one prepared request, reused.
    import requests
    from requests_oauth2client import OAuth2Client, OAuth2ClientCredentialsAuth

    http = requests.Session()
    http.verify = setup.ca_file
    client = OAuth2Client(
        token_endpoint=setup.token_endpoint, client_id=setup.client_id, client_secret=client_secret(), session=http
    )
    auth = OAuth2ClientCredentialsAuth(client, scope=SCOPE)
    request = requests.Request("GET", setup.issuer + "/api").prepare()

    def get() -> str:
        auth(request)
        return str(request.headers["Authorization"])[len("Bearer ") :]

    return get


@dataclass(frozen=True)
class Library:
    name: str
    client_id: str
    modules: tuple[str, ...]  # what the library's import costs (timed in a fresh process), and whether it is installed
    build: Callable[[Setup], Getter]
    persists: bool  # keeps tokens across processes
    auth_method: str  # how the library authenticates to the token endpoint (registered so at the provider)
    multi_process: str  # what its documentation offers for many processes


LIBRARIES: tuple[Library, ...] = (
    Library(
        name="oauth2store",
        client_id="o2s",
        modules=("oauth2store",),
        build=oauth2store_getter,
        persists=True,
        auth_method="client_secret_basic",
        multi_process="the store (SQLite file), single-flight renewal",
    ),
    Library(
        name="msal",
        client_id="msal",
        modules=("msal",),
        build=lambda setup: msal_getter(setup, persisted=False),
        persists=False,
        auth_method="client_secret_post",
        multi_process="none: a cache per process",
    ),
    Library(
        name="msal+extensions",
        client_id="msalx",
        modules=("msal", "msal_extensions"),
        build=lambda setup: msal_getter(setup, persisted=True),
        persists=True,
        auth_method="client_secret_post",
        multi_process="PersistedTokenCache: one file, locked",
    ),
    Library(
        name="authlib",
        client_id="authlib",
        modules=("authlib.integrations.requests_client",),
        build=authlib_getter,
        persists=False,
        auth_method="client_secret_basic",
        multi_process="none (an update_token hook to save it yourself)",
    ),
    Library(
        name="requests-oauth2client",
        client_id="ro2c",
        modules=("requests_oauth2client",),
        build=requests_oauth2client_getter,
        persists=False,
        auth_method="client_secret_post",
        multi_process="none: a token per auth handler",
    ),
)
BY_NAME = {library.name: library for library in LIBRARIES}


def missing_module(library: Library) -> str | None:
    """The first of the library's modules that does not import, or None when all do."""
    for module in library.modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


# -- the child processes ----------------------------------------------------------------------------------------------


def child(task: str, library: Library, setup: Setup, calls: int) -> dict[str, Any]:
    """Run in a fresh process: `first` (import, then the first token), `memory` (the same under tracemalloc),
    `flight` (READY, wait for a line on stdin, then `calls` calls) or `bare` (nothing: the floor of peak RSS)."""
    if task == "bare":
        return {"maxrss": peak_rss()}
    if task == "memory":
        import tracemalloc

        tracemalloc.start()
    started = time.perf_counter()
    for module in library.modules:
        importlib.import_module(module)
    imported = time.perf_counter()
    get = library.build(setup)
    if task == "flight":
        print("READY", flush=True)
        sys.stdin.readline()
        begin = time.time()
        tokens = {get() for _ in range(calls)}
        # Digests, never the tokens: the parent counts the distinct tokens of all processes.
        digests = sorted(hashlib.sha256(token.encode()).hexdigest()[:16] for token in tokens)
        return {"begin": begin, "end": time.time(), "tokens": digests}
    get()
    done = time.perf_counter()
    result: dict[str, Any] = {"import": imported - started, "token": done - imported}
    result["maxrss"] = peak_rss()
    if task == "memory":
        result["traced"] = tracemalloc.get_traced_memory()[1]
    return result


def peak_rss() -> int:
    """This process's peak resident set in bytes: Linux's VmHWM (ru_maxrss would include the parent's, from the
    fork before exec), else ru_maxrss."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def child_command(task: str, library: Library, setup: Setup, calls: int = 0) -> list[str]:
    request = {"task": task, "library": library.name, "setup": asdict(setup), "calls": calls}
    return [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(request)]


def run_child(task: str, library: Library, setup: Setup) -> dict[str, Any]:
    done = subprocess.run(child_command(task, library, setup), capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{library.name} {task} child failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# -- the TLS front ----------------------------------------------------------------------------------------------------


def serve_front(upstream_port: int, certificate_file: str, key_file: str) -> None:
    """Forward https://127.0.0.1:<port> to the provider's http://127.0.0.1:<upstream_port>, rewriting the provider's
    origin in its answers (the discovery document) to this one's; `<any path>/.well-known/openid-configuration`
    answers the provider's discovery document. Prints READY <port>; exits when stdin closes."""
    import http.client
    import http.server
    import ssl
    import threading

    upstream = f"http://127.0.0.1:{upstream_port}".encode()
    local = threading.local()

    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.forward()

        def do_POST(self) -> None:
            self.forward()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def forward(self) -> None:
            path = self.path
            if path.split("?", 1)[0].endswith("/.well-known/openid-configuration"):
                path = "/.well-known/openid-configuration"
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
            local.connection.request(self.command, path, body=body, headers=headers)
            answer = local.connection.getresponse()
            origin = f"https://{self.headers.get('Host', '')}".encode()  # 127.0.0.1:<this port>
            data = answer.read().replace(upstream, origin)
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() in ("content-type", "cache-control", "pragma", "www-authenticate", "retry-after"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY {server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the bench closes it


@contextmanager
def tls_front(upstream_port: int, directory: Path) -> Iterator[tuple[str, str]]:
    """Run the front in a process of its own; yields (its https origin, the CA file that verifies it)."""
    from factories import TestCA  # tests/ is on sys.path (main)

    ca = TestCA("bench_peers CA")
    issued = ca.issue("127.0.0.1")
    (directory / "ca.pem").write_text(ca.pem)
    (directory / "front.pem").write_text(issued.certificate)
    (directory / "front.key").touch(mode=0o600)
    (directory / "front.key").write_text(issued.key_pem())
    command = [sys.executable, str(Path(__file__).resolve()), "--front", str(upstream_port), str(directory)]
    front = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert front.stdout is not None
        line = front.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError("the TLS front did not start")
        yield f"https://127.0.0.1:{int(line.split()[1])}", str(directory / "ca.pem")
    finally:
        assert front.stdin is not None
        front.stdin.close()
        front.wait(timeout=10)


# -- the measurements -------------------------------------------------------------------------------------------------


def per_call(get: Getter, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        get()
    return (time.perf_counter() - started) / n


def drop_cached_tokens(library: Library, setup: Setup) -> None:
    """Empty the library's persistent cache (a cold start); in-memory caches die with their process."""
    if library.name == "oauth2store":
        from sqlalchemy import delete

        from oauth2store import AccessToken, Store

        store = Store(setup.store_url)
        with store.session() as session:
            session.execute(delete(AccessToken))
        store.close()
    elif library.name == "msal+extensions":
        Path(setup.cache_file).unlink(missing_ok=True)


def flight(library: Library, setup: Setup, processes: int, calls: int) -> dict[str, Any]:
    """`processes` fresh processes, started together, `calls` calls each, from a cold cache, within one lifetime."""
    drop_cached_tokens(library, setup)
    command = child_command("flight", library, setup, calls)
    workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
               for _ in range(processes)]  # fmt: skip
    for worker in workers:
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{library.name} flight worker did not start")
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [json.loads(worker.communicate(timeout=300)[0].splitlines()[-1]) for worker in workers]
    return {
        "elapsed": max(r["end"] for r in results) - min(r["begin"] for r in results),
        "distinct": len({digest for r in results for digest in r["tokens"]}),
    }


@dataclass
class Figures:
    warm: list[float]
    first: dict[str, list[dict[str, Any]]]  # "stored" / "cold" -> the children's results
    requests: int | None = None
    flight: dict[str, Any] | None = None
    traced: int | None = None


def measure(libraries: Sequence[Library], setups: dict[str, Setup], options: argparse.Namespace,
            count: Callable[[], dict[str, int]]) -> dict[str, Figures]:  # fmt: skip
    figures = {library.name: Figures([], {"stored": [], "cold": []}) for library in libraries}
    getters = {library.name: library.build(setups[library.name]) for library in libraries}
    for turn in range(options.rounds):  # warm hits, the libraries in turn, a new order each round
        for library in rotate(libraries, turn):
            get = getters[library.name]
            get()
            figures[library.name].warm.append(per_call(get, options.calls))
    for turn in range(options.processes_rounds):  # fresh processes: cold, then with the token cached
        for library in rotate(libraries, turn):
            setup = setups[library.name]
            drop_cached_tokens(library, setup)
            figures[library.name].first["cold"].append(run_child("first", library, setup))
            if library.persists:
                figures[library.name].first["stored"].append(run_child("first", library, setup))
    for library in libraries:
        figures[library.name].traced = run_child("memory", library, setups[library.name])["traced"]
    for library in libraries:
        before = count().get(library.client_id, 0)
        figures[library.name].flight = flight(library, setups[library.name], options.workers, options.worker_calls)
        figures[library.name].requests = count().get(library.client_id, 0) - before
    return figures


def rotate(libraries: Sequence[Library], by: int) -> list[Library]:
    """The libraries in turn, starting one further each round, so that drift hits each equally."""
    shift = by % len(libraries)
    return [*libraries[shift:], *libraries[:shift]]


# -- the report -------------------------------------------------------------------------------------------------------


def median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def median_total(results: list[dict[str, Any]]) -> float:
    """The median of the processes' import + first token."""
    return float(statistics.median(r["import"] + r["token"] for r in results))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def report(libraries: Sequence[Library], missing: dict[str, str], figures: dict[str, Figures], floor_rss: int,
           options: argparse.Namespace) -> None:  # fmt: skip
    warm = {name: min(f.warm) for name, f in figures.items()}
    cold_total = {name: median_total(f.first["cold"]) for name, f in figures.items()}
    fastest_warm = min(warm.values(), default=1.0)
    fastest_cold = min(cold_total.values(), default=1.0)
    headers = ["library", "warm hit us", "x", "import ms", "stored token ms", "stored total ms", "cold token ms",
               "cold total ms", "x", f"requests {options.workers}x{options.worker_calls}", "RSS MiB",
               "heap MiB"]  # fmt: skip
    rows: list[list[str]] = []
    for library in libraries:
        name = library.name
        if name in missing:
            rows.append([name, "not installed", *[""] * (len(headers) - 2)])
            continue
        f = figures[name]
        stored = f.first["stored"]
        cold = f.first["cold"]
        all_first = [*stored, *cold]
        rows.append([
            name,
            f"{warm[name] * 1e6:.2f}",
            f"{warm[name] / fastest_warm:.0f}x",
            ms(median(all_first, "import")),
            ms(median(stored, "token")) if stored else "n/a",
            ms(median_total(stored)) if stored else "n/a",
            ms(median(cold, "token")),
            ms(cold_total[name]),
            f"{cold_total[name] / fastest_cold:.1f}x",
            str(f.requests),
            f"{(median(cold, 'maxrss') - floor_rss) / 2**20:.1f}",
            f"{(f.traced or 0) / 2**20:.1f}",
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()
    if missing:
        absent = ", ".join(f"{name} (no module {module})" for name, module in missing.items())
        print(f"not installed: {absent}; pip install -e '.[bench]' to measure them too\n")
    for library in libraries:
        if library.name in figures and (flown := figures[library.name].flight) is not None:
            print(f"{library.name}: {library.multi_process}; {options.workers} processes x {options.worker_calls} "
                  f"calls in {flown['elapsed']:.2f} s, {figures[library.name].requests} token requests, "
                  f"{flown['distinct']} distinct tokens handed out")  # fmt: skip
    print(f"""
warm hit: the minimum over {options.rounds} rounds of {options.calls} calls, in-process, with the token held.
import / token / total: medians over {options.processes_rounds} fresh processes each (inside the child: the time to
  import the library, then to build the client and get the first token; total is the median of their sums);
  `stored` with the token already in the library's persistent cache, `cold` with none (one discovery request for
  MSAL, one token request for everyone).
requests: token requests counted at the provider while {options.workers} fresh processes start together from a cold
  cache and each make {options.worker_calls} calls, within one token lifetime ({TOKEN_TTL} s).
RSS: a cold fresh process's peak RSS (VmHWM) above that of a child of this script that imports no library
  ({floor_rss / 2**20:.1f} MiB); heap: tracemalloc's peak from before the import to the first token.
caveats: every library goes through the same TLS front, a small Python proxy, because MSAL accepts only an https
  authority with a path segment (`oidc_authority=<issuer>/bench`, msal >= 1.28); MSAL discovers the server in every
  new process, Authlib and requests-oauth2client are given the token endpoint, oauth2store reads the stored
  discovery; msal-extensions uses plain FilePersistence (no libsecret here, the fallback its README documents);
  Authlib's and requests-oauth2client's warm hit is the check their requests integration makes before each request
  (ensure_active_token; the auth handler on a prepared request), the others return the token string.""")


# -- main -------------------------------------------------------------------------------------------------------------


def register(op_clients: list[dict[str, Any]], library: Library, secret: str) -> None:
    op_clients.append({
        "client_id": library.client_id,
        "client_secret": secret,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": library.auth_method,
    })  # fmt: skip


def setup_store(url: str, issuer: str, ca_file: str, client_id: str) -> None:
    from oauth2store import Client, ServerDefinition, SSLConfiguration, Store

    store = Store(url)
    store.upgrade()
    with store.session() as session:
        session.add(SSLConfiguration(name="bench", certificate_authorities=Path(ca_file).read_text()))
        session.flush()
        server = ServerDefinition.discover(session, issuer, ssl_configuration="bench")
        client = Client(application_name=client_id, client_type="confidential", client_id=client_id,
                        client_secret=client_secret(), server_definition=server, ssl_configuration="bench")  # fmt: skip
        client.client_metadata.grant_types = ["client_credentials"]
        session.add(client)
    store.close()


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, not a measurement")
    parser.add_argument("--library", action="append", choices=sorted(BY_NAME), help="only these (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--front", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    quick = options.quick
    options.rounds = 2 if quick else 7
    options.calls = 2_000 if quick else 20_000
    options.processes_rounds = 1 if quick else 7
    options.workers = 2 if quick else 8
    options.worker_calls = 10 if quick else 200
    return options


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_arguments(argv)
    if options.child:
        request = json.loads(options.child)
        sys.path.insert(0, str(ROOT))
        result = child(request["task"], BY_NAME[request["library"]], Setup(**request["setup"]), request["calls"])
        print(json.dumps(result), flush=True)
        return
    if options.front:
        directory = Path(options.front[1])
        serve_front(int(options.front[0]), str(directory / "front.pem"), str(directory / "front.key"))
        return

    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from oidc_provider import OidcProvider

    from oauth2store import generate_store_key

    load = os.getloadavg()[0]  # other work on the machine while this runs shifts every figure
    chosen = [BY_NAME[name] for name in options.library] if options.library else list(LIBRARIES)
    missing = {library.name: module for library in chosen if (module := missing_module(library)) is not None}
    libraries = [library for library in chosen if library.name not in missing]
    os.environ.setdefault("OAUTH2STORE_KEY", generate_store_key())  # the children open the same store
    os.environ.setdefault(SECRET_VARIABLE, secrets.token_urlsafe(32))
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    clients: list[dict[str, Any]] = []
    for library in libraries:
        register(clients, library, client_secret())
    ttl = {"ClientCredentials": TOKEN_TTL, "AccessToken": TOKEN_TTL}
    with (
        tempfile.TemporaryDirectory(prefix="bench-peers-") as temporary,
        OidcProvider(clients=clients, ttl=ttl) as op,
        tls_front(int(op.issuer.rsplit(":", 1)[1]), Path(temporary)) as (issuer, ca_file),
    ):
        # requests prefers REQUESTS_CA_BUNDLE from the environment to a session's `verify`: point it at the CA too.
        os.environ["REQUESTS_CA_BUNDLE"] = ca_file
        store_url = f"sqlite:///{temporary}/bench.db"
        setups = {library.name: Setup(issuer, ca_file, library.client_id, f"{temporary}/{library.client_id}.bin",
                                      store_url) for library in libraries}  # fmt: skip
        if "oauth2store" in setups:
            setup_store(store_url, issuer, ca_file, BY_NAME["oauth2store"].client_id)
        figures = measure(libraries, setups, options, op.token_requests)
        mode = " (--quick: a smoke run, not a measurement)" if options.quick else ""
        mode += f"; load average {load:.1f} on {os.cpu_count()} CPUs before the run"
        print(f"python {sys.version.split()[0]}; {len(libraries)} of {len(chosen)} libraries measured, interleaved; "
              f"provider {issuer} (oidc-provider behind a TLS front), token lifetime {TOKEN_TTL} s{mode}")  # fmt: skip
        floor = run_child("bare", libraries[0], setups[libraries[0].name])["maxrss"] if libraries else 0
        report(chosen, missing, figures, floor, options)


if __name__ == "__main__":
    main()
