"""The web app's frame in Chromium: sign in, the marking banner, the skip link and landmarks, sign out."""

from __future__ import annotations

from web_helpers import *  # noqa: F401,F403
from web_helpers import login, offsite


def test_a_page_without_a_session_sends_the_browser_to_login_and_back_after_signing_in(page, web_server):
    page.goto("/search?q=Karimi")
    assert "/login" in page.url
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(web_server.passwords["alice"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/search?q=Karimi")
    assert page.locator("header").get_by_text("alice · UKPOL").is_visible()


def test_a_wrong_password_is_refused_with_a_message_and_no_session(page, web_server):
    page.goto("/login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not recognised" in alert.inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == "tessera_session"]


def test_the_frame_has_skip_link_main_landmark_navigation_and_banners_top_and_bottom(page, web_server):
    login(page, web_server, "alice")
    banners = page.locator("[data-marking-banner]")
    assert banners.count() == 2
    assert banners.first.bounding_box()["y"] < 5
    page.goto("/watchlist")  # a page with nothing focused on load: the first Tab lands on the skip link
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("node => node === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.get_by_role("main").count() == 1
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Watchlist").get_attribute("aria-current") == "page"
    assert nav.get_by_role("link", name="Search").get_attribute("aria-current") is None


def test_the_session_cookie_is_httponly_and_sign_out_ends_it(page, web_server):
    login(page, web_server, "olly")
    cookie = next(c for c in page.context.cookies() if c["name"] == "tessera_session")
    assert cookie["httpOnly"]
    assert page.evaluate("document.cookie").find("tessera_session") < 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto("/search")
    assert "/login" in page.url


def test_the_vendored_libraries_load_from_this_server_only(page, web_server):
    login(page, web_server, "alice")
    loaded = page.evaluate("""async () => {
        const scripts = ['sigma/sigma.min.js', 'graphology/graphology.umd.min.js',
                         'graphology-layout-forceatlas2/graphology-layout-forceatlas2.min.js',
                         'leaflet/leaflet.js', 'topojson-client/topojson-client.min.js'];
        for (const s of scripts) {
            await new Promise((ok, ko) => { const e = document.createElement('script');
                e.src = '/static/vendor/' + s; e.onload = ok; e.onerror = () => ko(new Error(s));
                document.head.appendChild(e); });
        }
        const world = await (await fetch('/static/vendor/world-atlas/countries-110m.json')).json();
        const countries = topojson.feature(world, world.objects.countries).features.length;
        const g = new graphology.Graph(); g.addNode('a'); g.addNode('b'); g.addEdge('a', 'b');
        graphologyLayoutForceAtlas2.forceAtlas2.assign(g, {iterations: 5});
        return {countries, sigma: typeof Sigma, leaflet: typeof L.map, fa2: typeof graphologyLayoutForceAtlas2.FA2Layout,
                x: typeof g.getNodeAttribute('a', 'x')};
    }""")
    assert loaded["countries"] > 150
    assert loaded == dict(loaded, sigma="function", leaflet="function", fa2="function", x="number")
    assert offsite(page.context.requests) == []


def test_the_purpose_stated_in_the_header_is_recorded_with_each_search(page, web_server):
    from tessera.access import audit
    from tessera.store.store import Store

    login(page, web_server, "alice")
    page.get_by_label("Purpose").fill("Op TIDE, tasking 42")
    page.goto("/search?q=Karimi")  # a new page keeps the purpose for the tab's session
    assert page.get_by_label("Purpose").input_value() == "Op TIDE, tasking 42"
    page.locator("#search-status").filter(has_text="result").wait_for()
    store = Store.open(f"sqlite:///{web_server.db}")
    try:
        entry = [e for e in audit.show(store, user="alice") if e.action == "search"][-1]  # the newest
    finally:
        store.close()
    assert entry.purpose == "Op TIDE, tasking 42"
