"""examples/web_login.py in a real headless Chromium, against the loopback oidc-provider's own login, consent and
logout pages, with two instances of the application (two processes) on one store: signed in on one, the same
cookie is signed in on the other; an expired access token is refreshed once; logout ends the session everywhere.

The browser is Debian's `chromium` with its `chromium-driver` (.ci/run installs them); nothing is downloaded: the
driver's path is given, so Selenium Manager never runs, and the browser resolves no host but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from oidc_provider import OidcProvider
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from oauth2store import AccessToken, Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "web_login.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SECRET = "web-login-example-secret-0123456789"
#: How long a page may take to show what the test waits for (a ceiling on a wait, never a measured time).
PAGE_WAIT = 60

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason=f"no {CHROMIUM} or {CHROMEDRIVER}: apt-get install chromium chromium-driver (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    """A provider with its own sign-in pages, refresh-token rotation and RP-initiated logout."""
    with OidcProvider(sign_in=True, ttl={"AccessToken": 300, "ClientCredentials": 300}) as started:
        yield started


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the provider's pages link a web font
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class App:
    """One instance of the example, in a process of its own; its stderr kept in a file."""

    def __init__(self, store_url: str, log: Path, *args: str) -> None:
        env = {**os.environ, "OAUTH2STORE_EXAMPLE_CLIENT_SECRET": SECRET}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.log = log
        self._stderr: IO[bytes] = log.open("wb")
        command = [sys.executable, str(EXAMPLE), *args, "--db", store_url]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # EOF (an empty line) if it fails to start
        assert line.startswith("serving "), f"{line!r}: {log.read_text()}"
        self.url = line.split()[1]

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._stderr.close()
        return self.log.read_text()


def wait_for(driver: WebDriver, by: str, value: str) -> WebElement:
    element: WebElement = WebDriverWait(driver, PAGE_WAIT).until(
        expected_conditions.presence_of_element_located((by, value))
    )
    return element


def session_row(store: Store, session_id: str) -> dict[str, Any] | None:
    with store.session() as db:
        row = AccessToken.OpenForSession(db, "web-login", session_id)
        if row is None:
            return None
        return {"access_token": row.access_token, "refresh_token": row.refresh_token}


def test_sign_in_refresh_and_log_out_across_two_processes(
    browser: WebDriver, provider: OidcProvider, store: Store, store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id = provider.register(
        client_secret=SECRET,
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        redirect_uris=[f"{base}/callback"],
        post_logout_redirect_uris=[f"{base}/logged-out"],
    )["client_id"]
    first = App(store_url, tmp_path / "first.log", provider.issuer, client_id, "--port", str(port))
    second = App(store_url, tmp_path / "second.log", "--port", "0")  # the stored definition
    try:
        # Sign in on the first instance: the provider's login form, then its consent page.
        browser.get(f"{first.url}/profile")
        wait_for(browser, By.NAME, "login").send_keys("carol")
        browser.find_element(By.NAME, "password").send_keys("any password")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(browser, By.XPATH, "//button[text()='Continue']").click()
        assert wait_for(browser, By.ID, "name").text == "User carol"
        assert browser.current_url == f"{first.url}/profile"

        # The cookie holds the session id's source only; the store holds the rest.
        cookies = {cookie["name"]: cookie for cookie in browser.get_cookies() if cookie["name"] in ("sid", "session")}
        assert list(cookies) == ["sid"] and cookies["sid"]["httpOnly"] and len(cookies["sid"]["value"]) == 43
        session_id = hashlib.sha256(cookies["sid"]["value"].encode()).hexdigest()
        signed_in = session_row(store, session_id)
        assert signed_in is not None and signed_in["access_token"] and signed_in["refresh_token"]

        # The other process, the same cookie: signed in, no trip to the provider.
        browser.get(f"{second.url}/profile")
        assert wait_for(browser, By.ID, "name").text == "User carol"
        assert browser.current_url == f"{second.url}/profile"

        # The access token expires: the next page refreshes it, once, and the rotated refresh token is kept.
        with store.session() as db:
            row = AccessToken.OpenForSession(db, "web-login", session_id)
            assert row is not None
            row.expires = datetime.now(UTC) - timedelta(seconds=1)
        before = provider.token_requests()
        browser.get(f"{second.url}/profile")
        assert wait_for(browser, By.ID, "name").text == "User carol"
        assert provider.token_requests_since(before) == {client_id: 1}
        refreshed = session_row(store, session_id)
        assert refreshed is not None and refreshed["access_token"] != signed_in["access_token"]
        assert refreshed["refresh_token"] != signed_in["refresh_token"]
        browser.get(f"{first.url}/profile")  # the first process uses the refreshed token: no other request
        assert wait_for(browser, By.ID, "name").text == "User carol"
        assert provider.token_requests_since(before) == {client_id: 1}

        # Log out from the second: the provider's end_session page asks, then sends the browser back to the first.
        browser.find_element(By.ID, "logout").click()
        wait_for(browser, By.CSS_SELECTOR, "button[name=logout][value=yes]").click()
        wait_for(browser, By.ID, "home")
        assert browser.current_url == f"{first.url}/"
        assert session_row(store, session_id) is None
        assert browser.get_cookie("sid") is None
        browser.get(f"{second.url}/profile")  # signed out everywhere: the profile sends the browser to sign in
        wait_for(browser, By.NAME, "login")
        assert browser.current_url.startswith(provider.issuer)
    finally:
        logs = first.stop() + second.stop()
    assert "code=" not in logs and "state=" not in logs  # werkzeug's request lines are not logged
