"""Shared browser-test fixtures: `tessera serve` over a seeded store, and Debian's Chromium driven by Playwright.

Use from a test module with `from web_helpers import *  # noqa: F401,F403` (pytest finds the fixtures by name):

- `web_server` (session): a subprocess `tessera serve` on a free loopback port over an SQLite store holding
  four agencies (UKPOL, FRPOL, MI, NCA), resolved, and users alice (UKPOL, SECRET), amelie (FRPOL, SECRET),
  olly (UKPOL, OFFICIAL); `.url`, `.db`, `.passwords`, `.tokens`.
- `browser` (session): Chromium from /usr/bin/chromium (never downloaded). Missing browser: the test skips,
  or fails when TESSERA_REQUIRE_BROWSER=1 (as CI sets).
- `context` / `page`: a fresh browser context per test, recording every request it makes in
  `context.requests` (`page.context.requests`); `offsite(requests)` lists those not to 127.0.0.1.
- `login(page, web_server, "alice")` signs in through the login page.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import httpx
import pytest

from api_helpers import build_world
from tessera.store.store import Store

CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("TESSERA_REQUIRE_BROWSER") == "1"
PASSWORDS = {"alice": "pw-alice", "amelie": "pw-amelie", "olly": "pw-olly"}
LOCAL_HOSTS = {"127.0.0.1"}

__all__ = ["web_server", "browser", "context", "page", "login", "offsite", "WebServer", "seed_store", "start_server",
           "stop_server"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WebServer:
    url: str                        # http://127.0.0.1:PORT
    db: Path
    process: subprocess.Popen
    tokens: dict[str, str]
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))

    def api(self, user: str, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the API as `user` with their bearer token (for setting up a test, not for what it checks)."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} | kwargs.pop("headers", {})
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def seed_store(db: Path, tmp: Path) -> dict[str, str]:
    """The API tests' small world (tests/api_helpers.py), resolved; returns bearer tokens by user name."""
    store = Store.open(f"sqlite:///{db}")
    try:
        world = build_world(store, tmp)
        from tessera.resolve.engine import resolve

        try:
            resolve(store)
        except Exception as exc:  # resolution is tested on its own; the pages still serve unresolved records
            warnings.warn(f"web test store left unresolved: {exc!r}")
        return world.tokens
    finally:
        store.close()


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"tessera serve exited: {log.read_text()}")
        try:
            httpx.get(f"{url}/api/v1/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"tessera serve did not start: {log.read_text()}") from None
            time.sleep(0.1)


def start_server(tmp: Path) -> WebServer:
    """Seed a store under `tmp` and start `tessera serve` over it on a free loopback port (stop_server ends it)."""
    db = tmp / "web.db"
    tokens = seed_store(db, tmp)
    port = free_port()
    log = tmp / "serve.log"
    env = dict(os.environ, TESSERA_ARGON2_TIME_COST="1", TESSERA_ARGON2_MEMORY_KIB="1024")
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--db", str(db)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    server = WebServer(f"http://127.0.0.1:{port}", db, process, tokens)
    try:
        _wait_until_serving(process, server.url, log)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: WebServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


class _Shared:
    """One instance per test session even though each module star-imports (and so re-defines) the fixtures:
    the first fixture instance starts it, the last one to finish stops it."""

    def __init__(self, start, stop):
        self.start, self.stop, self.value, self.users = start, stop, None, 0

    def acquire(self, *args):
        if self.users == 0:
            self.value = self.start(*args)
        self.users += 1
        return self.value

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            value, self.value = self.value, None
            self.stop(value)


_server = _Shared(start_server, stop_server)


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    server = _server.acquire(tmp_path_factory.mktemp("web"))
    try:
        yield server
    finally:
        _server.release()


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def _launch():
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    playwright = manager.start()
    try:
        return manager, playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except BaseException:
        manager.__exit__(None, None, None)
        raise


def _close(launched) -> None:
    manager, chromium = launched
    try:
        chromium.close()
    finally:
        manager.__exit__(None, None, None)


_browser = _Shared(_launch, _close)


@pytest.fixture(scope="session")
def browser():
    missing = _browser_missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"TESSERA_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    _, chromium = _browser.acquire()
    try:
        yield chromium
    finally:
        _browser.release()


@pytest.fixture
def context(browser, web_server):
    ctx = browser.new_context(base_url=web_server.url, viewport={"width": 1280, "height": 900},
                              locale="en-GB", timezone_id="UTC")
    ctx.set_default_timeout(15_000)
    ctx.requests = []
    ctx.on("request", lambda request: ctx.requests.append(request.url))
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def offsite(urls: list[str]) -> list[str]:
    """The URLs among `urls` that would leave the machine (anything but 127.0.0.1; data: and blob: are local)."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in LOCAL_HOSTS:
            out.append(url)
    return out


def login(page, web_server: WebServer, user: str, next_path: str = "/search") -> None:
    """Sign in through the login page as `user` and wait for the page it leads to."""
    page.goto(f"/login?next={quote(next_path)}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(web_server.passwords[user])
    page.get_by_role("button", name="Sign in").click()
    want = urlsplit(next_path).path
    page.wait_for_url(lambda url: urlsplit(url).path == want)
    page.wait_for_load_state()
