"""The analysis pages in Chromium: link chart (expand, collapse, supernode pages, filters, path, 2,000 nodes, export),
map, timeline, networks, money flow, situation figures and ingest, with no request leaving 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from web_charts_world import HUBS, LEAVES, SMALL_BOATS, SUPER_LEAVES, seed_charts
from web_helpers import *  # noqa: F401,F403
from web_helpers import WebServer, _wait_until_serving, free_port, offsite, seed_store

SHOTS = os.environ.get("TESSERA_SCREENSHOTS")  # a folder: save a screenshot of each page there


@pytest.fixture(scope="module")
def chart_server(tmp_path_factory):
    """`tessera serve` over the web tests' users plus the chart world (UKPOL, OFFICIAL-SENSITIVE)."""
    tmp = tmp_path_factory.mktemp("charts")
    db = tmp / "charts.db"
    tokens = seed_store(db, tmp)
    from tessera.store.store import Store

    store = Store.open(f"sqlite:///{db}")
    try:
        seed_charts(store, tmp)
        with store.engine.connect() as conn:
            from sqlalchemy import select

            from tessera.store import tables

            s = tables.statements
            ids = {name: conn.execute(select(s.c.entity_id).where(s.c.prop == "name", s.c.value == name)
                                      .limit(1)).scalar_one()
                   for name in ("Centre Fanmore", "Ada Chainwright", "Bo Chainwright", "Cy Chainwright",
                                "Dee Chainwright", "Hub Zed")}
    finally:
        store.close()
    port = free_port()
    log = tmp / "serve.log"
    env = dict(os.environ, TESSERA_ARGON2_TIME_COST="1", TESSERA_ARGON2_MEMORY_KIB="1024")
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tessera.cli", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--db", str(db)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    server = WebServer(f"http://127.0.0.1:{port}", db, process, tokens)
    server.ids = ids
    try:
        _wait_until_serving(process, server.url, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def chart_page(browser, chart_server):
    ctx = browser.new_context(base_url=chart_server.url, viewport={"width": 1400, "height": 1000}, locale="en-GB",
                              timezone_id="UTC", accept_downloads=True)
    ctx.set_default_timeout(20_000)
    ctx.requests = []
    ctx.on("request", lambda request: ctx.requests.append(request.url))
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        ctx.close()


def sign_in(page, server, user="alice", then="/chart"):
    page.goto(f"/login?next={then}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(server.passwords[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".whoami")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def order(page) -> int:
    return page.evaluate("TesseraChart.graph.order")


def has(page, entity) -> bool:
    return page.evaluate("id => TesseraChart.graph.hasNode(id)", entity)


def draw(page, entity, hops=1, supernode=50, start="", types=None):
    page.wait_for_function("() => window.TesseraChart")  # the script has taken the form over
    page.get_by_label("Entity id").fill(entity)
    page.get_by_label("Hops").select_option(str(hops))
    page.locator("#chart-supernode").fill(str(supernode))
    page.locator("#chart-start").fill(start)
    if types is not None:
        for box in page.locator("input[name=types]").all():
            box.set_checked(box.get_attribute("value") in types)
    page.get_by_role("button", name="Draw").click()
    page.wait_for_function("() => TesseraChart.state.requests === 0 && TesseraChart.graph.order > 0")


def settle(page):
    page.wait_for_function("() => TesseraChart.state.requests === 0")


# link chart
def test_double_click_expands_a_node_and_its_collapse_button_folds_it_back(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    draw(chart_page, ids["Ada Chainwright"], hops=1)
    assert has(chart_page, ids["Bo Chainwright"]) and not has(chart_page, ids["Cy Chainwright"])
    before = order(chart_page)
    # the layout stopped and the nodes set apart on a line, so that the double-click lands on Bo and Bo alone
    x, y = chart_page.evaluate("""id => {
        TesseraChart.stopLayout();
        TesseraChart.graph.nodes().forEach((n, i) => TesseraChart.graph.mergeNodeAttributes(n, {x: i * 10, y: 0}));
        TesseraChart.renderer.refresh();
        const a = TesseraChart.graph.getNodeAttributes(id);
        const p = TesseraChart.renderer.graphToViewport({x: a.x, y: a.y});
        const box = document.getElementById('chart-canvas').getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", ids["Bo Chainwright"])
    chart_page.mouse.dblclick(x, y)
    chart_page.wait_for_function("id => TesseraChart.graph.hasNode(id)", arg=ids["Cy Chainwright"])
    settle(chart_page)
    assert has(chart_page, ids["Dee Chainwright"])
    assert order(chart_page) == before + 2
    chart_page.get_by_role("button", name="Collapse Bo Chainwright").click()
    chart_page.wait_for_function("id => !TesseraChart.graph.hasNode(id)", arg=ids["Cy Chainwright"])
    assert order(chart_page) == before and has(chart_page, ids["Bo Chainwright"])
    assert chart_page.errors == []


def test_a_link_to_the_chart_draws_what_it_asks_for_and_drawing_gives_such_a_link(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    chart_page.goto(f"/chart?entity={ids['Ada Chainwright']}&hops=1&types=payment&types=association")
    chart_page.wait_for_function("id => window.TesseraChart && TesseraChart.graph.hasNode(id)",
                                 arg=ids["Bo Chainwright"])
    settle(chart_page)
    assert not has(chart_page, ids["Cy Chainwright"])  # one hop, as the link says
    assert chart_page.get_by_label("Hops").input_value() == "1"
    checked = chart_page.locator("input[name=types]:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert sorted(checked) == ["association", "payment"]
    assert "hops=1" in chart_page.url and "types=payment" in chart_page.url
    assert chart_page.errors == []


def test_the_chart_can_be_drawn_expanded_and_collapsed_from_the_keyboard_alone(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    chart_page.get_by_label("Hops").focus()
    chart_page.keyboard.type("1")  # picks the option "1"
    chart_page.get_by_label("Entity id").focus()
    chart_page.keyboard.type(ids["Ada Chainwright"])
    chart_page.keyboard.press("Enter")  # submits the form
    chart_page.wait_for_function("id => TesseraChart.graph.hasNode(id)", arg=ids["Bo Chainwright"])
    settle(chart_page)
    assert not has(chart_page, ids["Cy Chainwright"])  # one hop: Bo's other neighbour waits for an expansion
    expand = chart_page.get_by_role("button", name="Expand Bo Chainwright")
    expand.focus()
    chart_page.keyboard.press("Enter")
    chart_page.wait_for_function("id => TesseraChart.graph.hasNode(id)", arg=ids["Cy Chainwright"])
    settle(chart_page)
    collapse = chart_page.get_by_role("button", name="Collapse Bo Chainwright")
    collapse.focus()
    chart_page.keyboard.press("Space")
    chart_page.wait_for_function("id => !TesseraChart.graph.hasNode(id)", arg=ids["Cy Chainwright"])
    assert "Collapsed Bo Chainwright" in chart_page.locator("#chart-status").inner_text()


def test_a_supernode_comes_as_a_summary_and_expands_a_page_at_a_time(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    draw(chart_page, ids["Dee Chainwright"], hops=1, supernode=50)
    zed = ids["Hub Zed"]
    assert chart_page.evaluate("id => TesseraChart.graph.getNodeAttribute(id, 'summary')", zed) is True
    assert "summarised" in chart_page.evaluate("id => TesseraChart.graph.getNodeAttribute(id, 'label')", zed)
    before = order(chart_page)
    chart_page.get_by_role("button", name="Expand Hub Zed").click()
    chart_page.wait_for_function(f"() => TesseraChart.graph.order >= {before + 50}")
    settle(chart_page)
    assert order(chart_page) == before + 50
    assert chart_page.evaluate("id => TesseraChart.state.pages[id]", zed) == {"page": 0, "pages": 3,
                                                                              "total": SUPER_LEAVES + 1}
    for page in (1, 2):
        chart_page.get_by_role("button", name="Next 50 of Hub Zed's").click()
        chart_page.wait_for_function("([id, p]) => (TesseraChart.state.pages[id] || {}).page === p", arg=[zed, page])
        settle(chart_page)
    # every one of its neighbours is on the chart now (Dee was already), and no more pages are offered
    assert order(chart_page) == before + SUPER_LEAVES
    expect(chart_page.get_by_role("button", name="Next 50 of Hub Zed's")).to_have_count(0)  # the list re-renders after 50 ms


def test_link_type_and_time_filters_change_what_is_drawn(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    draw(chart_page, ids["Bo Chainwright"], hops=1)
    assert has(chart_page, ids["Dee Chainwright"])  # Bo paid Dee
    draw(chart_page, ids["Bo Chainwright"], hops=1, types=["association"])
    assert has(chart_page, ids["Cy Chainwright"]) and not has(chart_page, ids["Dee Chainwright"])
    draw(chart_page, ids["Cy Chainwright"], hops=1)
    assert has(chart_page, ids["Dee Chainwright"])  # their link dates from 2021
    draw(chart_page, ids["Cy Chainwright"], hops=1, start="2023-01-01")
    assert not has(chart_page, ids["Dee Chainwright"]) and has(chart_page, ids["Bo Chainwright"])


def test_two_selected_entities_get_their_shortest_path_highlighted(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    draw(chart_page, ids["Ada Chainwright"], hops=3)
    chart_page.evaluate("TesseraChart.stopLayout()")
    chart_page.get_by_role("button", name="Select Ada Chainwright").click()
    chart_page.get_by_role("button", name="Select Hub Zed").click()
    chart_page.get_by_role("button", name="Shortest path between selected").click()
    chart_page.wait_for_function("() => document.getElementById('chart-canvas').dataset.path")
    path = chart_page.get_attribute("#chart-canvas", "data-path").split()
    assert path[0] == ids["Ada Chainwright"] and path[-1] == ids["Hub Zed"]
    assert ids["Dee Chainwright"] in path and len(path) >= 4
    for a, b in zip(path, path[1:]):
        assert chart_page.evaluate("([a, b]) => TesseraChart.graph.hasEdge(a, b)", [a, b])
    assert "Path of" in chart_page.locator("#chart-status").inner_text()


def test_two_thousand_nodes_are_laid_out_in_a_worker_while_the_page_stays_responsive(chart_page, chart_server):
    sign_in(chart_page, chart_server)
    started = time.monotonic()
    draw(chart_page, chart_server.ids["Centre Fanmore"], hops=2, supernode=60)
    chart_page.wait_for_function("() => document.getElementById('chart-canvas').dataset.firstDrawMs")
    assert order(chart_page) == 1 + HUBS + HUBS * LEAVES
    first_draw = int(chart_page.get_attribute("#chart-canvas", "data-first-draw-ms"))
    assert chart_page.get_attribute("#chart-canvas", "data-layout") == "running"
    a, updates = chart_page.evaluate("[TesseraChart.state.layoutIterations, TesseraChart.state.layoutUpdates]")
    # while the worker lays out, the main thread keeps answering: count frames and the longest gap between them
    frames = chart_page.evaluate("""() => new Promise(done => {
        const t0 = performance.now(); let last = t0, gap = 0, n = 0;
        function tick(t) { gap = Math.max(gap, t - last); last = t; n++;
            if (t - t0 < 1500) requestAnimationFrame(tick); else done({frames: n, maxGap: Math.round(gap)}); }
        requestAnimationFrame(tick);
    })""")
    chart_page.get_by_label("Entity id").fill("typed while the layout runs")
    assert chart_page.get_by_label("Entity id").input_value() == "typed while the layout runs"
    b, later = chart_page.evaluate("[TesseraChart.state.layoutIterations, TesseraChart.state.layoutUpdates]")
    print(f"\n2,001-node chart: first draw {first_draw} ms after Draw (wall {time.monotonic() - started:.1f} s "
          f"to load); {frames['frames']} frames in 1.5 s during layout, longest gap {frames['maxGap']} ms; "
          f"layout iterations {a} -> {b}, position updates {updates} -> {later}; load average {os.getloadavg()[0]:.1f}")
    # the layout went on in the worker meanwhile, its positions reaching the page step by step between other work
    assert b > a and later > updates and later >= 3
    assert chart_page.locator("#chart-count").inner_text() == str(1 + HUBS + HUBS * LEAVES)
    chart_page.get_by_label("Entity id").fill(chart_server.ids["Centre Fanmore"])  # not the typing probe
    shot(chart_page, "chart-2000")


def test_the_chart_exports_as_graphml_and_png_with_its_marking(chart_page, chart_server):
    ids = chart_server.ids
    sign_in(chart_page, chart_server)
    draw(chart_page, ids["Bo Chainwright"], hops=1)
    with chart_page.expect_download() as info:
        chart_page.get_by_role("button", name="Export GraphML").click()
    xml = Path(info.value.path()).read_text(encoding="utf-8")
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    root = ET.fromstring(xml)
    nodes = root.findall(".//g:node", ns)
    assert len(nodes) == order(chart_page)
    assert {n.get("id") for n in nodes} >= {ids["Bo Chainwright"], ids["Ada Chainwright"]}
    assert len(root.findall(".//g:edge", ns)) == chart_page.evaluate("TesseraChart.graph.size")
    assert "OFFICIAL-SENSITIVE" in root.find(".//g:graph/g:data", ns).text
    with chart_page.expect_download() as info:
        chart_page.get_by_role("button", name="Export PNG").click()
    png = Path(info.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    shot(chart_page, "chart")


# map, timeline, networks, money
def test_the_map_draws_the_offline_basemap_events_and_a_route_and_the_slider_filters_by_time(chart_page,
                                                                                            chart_server):
    sign_in(chart_page, chart_server, then="/map")
    chart_page.wait_for_selector("#map[data-basemap=ready]")
    assert chart_page.locator("path.basemap-country").count() > 100
    chart_page.wait_for_function("() => document.querySelectorAll('path.event-marker').length === 4")
    assert chart_page.locator("path.event-arrest").count() == 2
    assert chart_page.locator("#map-table tbody tr").count() == 4
    chart_page.locator("#map-slider").fill("0")  # back to the first event's day
    chart_page.wait_for_function("() => document.querySelectorAll('path.event-marker').length === 1")
    chart_page.get_by_label("Entity id").fill(chart_server.ids["Ada Chainwright"])
    chart_page.get_by_role("button", name="Show").click()
    chart_page.wait_for_function("() => document.querySelectorAll('path.route-line').length === 1")
    assert chart_page.locator("path.event-marker").count() == 2
    shot(chart_page, "map")


def test_timeline_networks_and_money_flow_of_the_chain(chart_page, chart_server):
    ada = chart_server.ids["Ada Chainwright"]
    sign_in(chart_page, chart_server, then=f"/timeline?entity={ada}")
    chart_page.wait_for_function("() => document.querySelectorAll('#timeline-table tbody tr').length > 0")
    kinds = chart_page.locator("#timeline-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds == ["association", "payment", "interception", "crossing"]
    assert chart_page.locator("#timeline-chart .timeline-item").count() == 4
    shot(chart_page, "timeline")

    chart_page.goto("/networks")
    chart_page.wait_for_selector("section.network")
    first = chart_page.locator("section.network").first
    assert first.locator("tbody tr").first.locator("td").nth(1).inner_text() in ("Hub Zed", "Centre Fanmore")
    assert "Hub Zed" in chart_page.locator("#networks-list").inner_text()
    shot(chart_page, "networks")

    chart_page.goto(f"/money?entity={ada}")
    chart_page.wait_for_function("() => document.querySelectorAll('#money-table tbody tr').length === 3")
    assert chart_page.locator("#money-totals").inner_text() == "13,500 GBP · 3,500 EUR"
    assert chart_page.locator("#money-flow path.flow").count() == 3
    shot(chart_page, "money")


@pytest.mark.skipif(not SMALL_BOATS.is_file(), reason=f"official small-boat file not found at {SMALL_BOATS}")
def test_the_situation_page_shows_the_record_first_quarter_of_2025(chart_page, chart_server):
    sign_in(chart_page, chart_server, then="/situation")
    chart_page.wait_for_selector("#figure-q1-2025")
    assert "6,642" in chart_page.locator("#figure-q1-2025").inner_text()
    assert "highest first quarter on record" in chart_page.locator("#figure-q1-2025").inner_text()
    row = chart_page.locator("#quarters-table tr[data-quarter='Q1 2025']")
    assert "6,642" in row.inner_text() and "yes" in row.inner_text()
    assert chart_page.locator("#series-chart rect.bar").count() > 12
    chart_page.get_by_label("Per").select_option("year")
    years = chart_page.locator("#series-table tbody tr").count()
    assert years >= 8 and chart_page.locator("#series-chart rect.bar").count() == years
    assert chart_page.locator("#figure-ytd").is_visible()
    shot(chart_page, "situation")


def test_the_ingest_page_uploads_follows_progress_and_lists_quarantined_rows(chart_page, chart_server, tmp_path):
    data = tmp_path / "nominals.csv"
    data.write_text("ref,name,dob,phone,nationality,grade\nW1,Wren Testwell,02/03/1991,07700 900321,GB,1A\n"
                    ",No Key Person,02/03/1991,07700 900322,GB,1A\n", encoding="utf-8")
    sign_in(chart_page, chart_server, then="/ingest")
    chart_page.wait_for_selector("#ingest-pick option:nth-child(2)", state="attached")
    chart_page.get_by_label("File (CSV").set_input_files(str(data))
    chart_page.get_by_label("Mapping", exact=True).select_option(index=chart_page.locator(
        "#ingest-pick option").evaluate_all("os => os.findIndex(o => o.textContent.startsWith('ukpol.csv'))"))
    assert "police_nominals" in chart_page.get_by_label("Mapping YAML").input_value()
    chart_page.get_by_role("button", name="Upload and ingest").click()
    chart_page.wait_for_function("() => document.getElementById('ingest-state').textContent.startsWith('Done')")
    chart_page.wait_for_function("() => document.querySelectorAll('#ingest-quarantine tbody tr').length === 1")
    assert "1 rows quarantined" in chart_page.locator("#ingest-quarantine-count").inner_text()
    assert chart_page.locator("#ingest-result [data-field=records]").inner_text() == "2"
    shot(chart_page, "ingest")


def test_no_request_of_the_analysis_pages_leaves_the_machine(chart_page, chart_server):
    sign_in(chart_page, chart_server, then="/map")
    chart_page.wait_for_selector("#map[data-basemap=ready]")
    for path in (f"/chart?entity={chart_server.ids['Bo Chainwright']}", "/networks", "/situation", "/ingest",
                 f"/timeline?entity={chart_server.ids['Ada Chainwright']}",
                 f"/money?entity={chart_server.ids['Ada Chainwright']}"):
        chart_page.goto(path)
        chart_page.wait_for_load_state("networkidle")
    requests = chart_page.context.requests
    assert any("/static/vendor/world-atlas/" in u for u in requests)
    assert any("/api/v1/charts/graph/neighbourhood" in u for u in requests)
    assert offsite(requests) == []
    assert chart_page.errors == []


# the JSON behind the pages
def test_the_chart_json_shows_a_user_only_what_they_may_see(chart_server):
    centre = chart_server.ids["Centre Fanmore"]

    def get(user, path):
        return httpx.get(f"{chart_server.url}/api/v1/charts{path}", timeout=30,
                         headers={"Authorization": f"Bearer {chart_server.tokens[user]}"})

    seen = get("alice", f"/graph/neighbourhood?entity={centre}&hops=1")
    assert seen.status_code == 200
    assert len(seen.json()["nodes"]) == 1 + HUBS
    assert seen.json()["marking"]["classification"] == "OFFICIAL-SENSITIVE"
    hidden = get("olly", f"/graph/neighbourhood?entity={centre}&hops=1")  # cleared OFFICIAL only
    assert hidden.status_code == 404
    assert "Fanmore" not in hidden.text
    assert get("olly", "/events").json()["events"] == []
    assert get("alice", "/graph/neighbourhood?entity=no-such-entity").status_code == 404
    assert get("alice", f"/graph/neighbourhood?entity={centre}&types=teleport").status_code == 422
