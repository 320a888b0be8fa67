"""Screenshots of the web app's pages in Debian's Chromium: all fourteen shown in the README.

Run from the repository root:  .venv/bin/python docs/screenshots/take.py [--out docs/screenshots]
It seeds the API tests' small world (tests/api_helpers.py) in a temporary store, serves it with `tessera serve`
on a free loopback port, signs in as analysts of two agencies and writes one PNG per page (login, search,
pointer, profile, alerts, watchlist); then it runs the analysis pages' browser tests (tests/test_web_charts.py)
with TESSERA_SCREENSHOTS set, which save the chart, map, timeline, networks, money, situation and ingest pages.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import web_helpers  # noqa: E402
from intake_helpers import HEADER_LINE, mapping_file, write  # noqa: E402
from tessera.intake.pipeline import BatchMarking, ingest_file  # noqa: E402
from tessera.store.store import Store  # noqa: E402


def shoot(page, name: str, out: Path) -> None:
    page.wait_for_timeout(400)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = web_helpers.start_server(tmp)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=web_helpers.CHROMIUM, args=web_helpers.CHROMIUM_ARGS)
                ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},
                                          locale="en-GB", timezone_id="UTC")
                page = ctx.new_page()
                page.goto("/login")
                shoot(page, "login", out)
                web_helpers.login(page, server, "alice")
                page.get_by_label("Name, phone, document, plate or account").fill("Muhammad Karimi")
                page.keyboard.press("Enter")
                page.locator("#results li").first.wait_for()
                shoot(page, "search", out)
                page.locator("#results li h3 a").first.click()
                page.locator("#values tbody tr").first.wait_for()
                page.locator("#judgements li").first.wait_for()
                shoot(page, "entity", out)
                smith = server.api("alice", "GET", "/search", params={"q": "John Smith"}).json()["results"][0]["id"]
                server.api("alice", "POST", "/watches", json=dict(target=smith, label="Op HERON driver"))
                page.goto("/alerts")
                page.locator("#stream-state").filter(has_text="Live").wait_for()
                store = Store.open(f"sqlite:///{server.db}")
                try:
                    newer = write(tmp / "ukpol-more.csv", HEADER_LINE + "N9,Ivan Sokolov,02/02/1972,07700 900999,GB,2B\n")
                    ingest_file(store, newer, "UKPOL", mapping_file(tmp), BatchMarking.make("OFFICIAL"))
                finally:
                    store.close()
                page.locator("#alert-list li").first.wait_for(timeout=30_000)
                shoot(page, "alerts", out)
                page.goto("/watchlist")
                page.locator("#watches tbody tr").first.wait_for()
                shoot(page, "watchlist", out)
                ctx.close()
                ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},
                                          locale="en-GB", timezone_id="UTC")
                page = ctx.new_page()
                web_helpers.login(page, server, "amelie")
                page.get_by_label("Name, phone, document, plate or account").fill("07700 900555")
                page.keyboard.press("Enter")
                page.locator("[data-pointer]").first.wait_for()
                shoot(page, "pointer", out)
                browser.close()
        finally:
            web_helpers.stop_server(server)
    analysis_pages(out)


def analysis_pages(out: Path) -> None:
    """The chart, map, timeline, networks, money, situation and ingest pages, from their browser tests."""
    import os
    import subprocess

    env = dict(os.environ, TESSERA_SCREENSHOTS=str(out.resolve()))
    subprocess.run([sys.executable, "-m", "pytest", "-q", str(ROOT / "tests" / "test_web_charts.py")],
                   cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
