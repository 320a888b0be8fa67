"""No request leaves the machine: every page of the web app, opened in Chromium with its scripts run, asks only
127.0.0.1 — checked by intercepting every request the browser makes (anything else is aborted and recorded)."""

from __future__ import annotations

from urllib.parse import urlsplit

from web_helpers import *  # noqa: F401,F403
from web_helpers import LOCAL_HOSTS, login, offsite


def test_every_page_asks_only_this_machine(page, web_server):
    blocked: list[str] = []

    def guard(route):
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.context.route("**/*", guard)
    login(page, web_server, "alice")
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    paths = [urlsplit(href).path for href in (links.nth(i).get_attribute("href") for i in range(links.count()))]
    assert {"/search", "/alerts", "/watchlist"} <= set(paths)

    smith = web_server.api("alice", "GET", "/search", params={"q": "John Smith"}).json()["results"][0]["id"]
    visited = []
    for path in paths + ["/search?q=Muhammad%20Karimi", f"/entities/{smith}", "/login"]:
        page.goto(path)
        page.wait_for_load_state("networkidle") if not path.startswith("/alerts") else page.wait_for_timeout(1500)
        visited.append(page.url)
    assert len(visited) == len(paths) + 3
    assert blocked == []
    assert offsite(page.context.requests) == []
    assert any("/static/app.js" in url for url in page.context.requests)


def test_the_offsite_check_itself_catches_a_request_to_another_host(page, web_server):
    login(page, web_server, "alice")
    page.context.route("**/*", lambda route: route.abort() if "example.org" in route.request.url else route.continue_())
    page.evaluate("fetch('https://example.org/tile.png').catch(() => null)")
    page.wait_for_timeout(300)
    assert offsite(page.context.requests) == ["https://example.org/tile.png"]
