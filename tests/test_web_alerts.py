"""Watchlist and alerts in Chromium: watch a subject from its profile, and see an alert arrive live when
another batch attaches a record to it — over the server's Server-Sent Events stream, announced to screen readers."""

from __future__ import annotations

import re

from web_helpers import *  # noqa: F401,F403
from web_helpers import login, offsite

from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.intake.pipeline import BatchMarking, ingest_file
from tessera.store.store import Store


def entity_id_of(web_server, user: str, q: str, caption: str) -> str:
    found = web_server.api(user, "GET", "/search", params={"q": q}).json()["results"]
    return next(r["id"] for r in found if caption in r["names"])


def test_watching_from_a_profile_then_an_alert_arrives_live(page, web_server, tmp_path):
    smith = entity_id_of(web_server, "alice", "John Smith", "John Smith")
    login(page, web_server, "alice", next_path=f"/entities/{smith}")
    page.locator("#values tbody tr").first.wait_for()
    page.get_by_role("button", name="Watch this entity").click()
    page.locator("#watch-status").filter(has_text="You are watching").wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/alerts")
    page.locator("#stream-state").filter(has_text="Live").wait_for()
    before = page.locator("#alert-list li").count()

    # Another UKPOL file lands with a record sharing John Smith's phone: the server's pump writes an alert.
    store = Store.open(f"sqlite:///{web_server.db}")
    try:
        newer = write(tmp_path / "ukpol-more.csv", HEADER_LINE + "N9,Ivan Sokolov,02/02/1972,07700 900999,GB,2B\n")
        ingest_file(store, newer, "UKPOL", mapping_file(tmp_path), BatchMarking.make("OFFICIAL"))
    finally:
        store.close()

    arrived = page.locator("#alert-list li.unread").filter(has_text="attached")
    arrived.first.wait_for(timeout=20_000)
    assert page.locator("#alert-list li").count() == before + 1
    assert smith in arrived.first.inner_text()
    assert re.search(r"New alert: .*attached", page.locator("#announcer").inner_text())
    assert page.locator("#alert-list").get_attribute("aria-live") == "polite"

    alert_id = int(arrived.first.get_attribute("data-alert"))
    arrived.first.get_by_role("button", name=f"Mark alert {alert_id} read").click()
    page.locator(f'#alert-list li[data-alert="{alert_id}"].read').wait_for()
    stored = web_server.api("alice", "GET", "/alerts").json()["items"]
    assert next(a for a in stored if a["id"] == alert_id)["acked"] is True
    assert offsite(page.context.requests) == []


def test_the_watchlist_page_adds_and_stops_a_watch(page, web_server):
    karimi = entity_id_of(web_server, "amelie", "Muhammad Karimi", "محمد الكريمي")
    login(page, web_server, "amelie", next_path="/watchlist")
    page.get_by_label("Entity id").fill(karimi)
    page.get_by_label("Watch", exact=True).select_option("network")
    page.get_by_label("Label (optional)").fill("Op HERON lead")
    page.get_by_role("button", name="Watch", exact=True).click()
    row = page.locator("#watches tbody tr").filter(has_text="Op HERON lead")
    row.wait_for()
    assert "network, 1 hop" in row.inner_text()
    assert [w["target"] for w in web_server.api("amelie", "GET", "/watches").json()["items"]].count(karimi) == 1

    row.get_by_role("button", name=f"Stop watching {karimi}").click()
    row.wait_for(state="detached")
    assert karimi not in [w["target"] for w in web_server.api("amelie", "GET", "/watches").json()["items"]]


def test_watching_an_entity_one_may_not_see_is_refused_like_a_missing_one(page, web_server):
    petrenko = entity_id_of(web_server, "alice", "Viktor Petrenko", "Viktor Petrenko")
    login(page, web_server, "amelie", next_path="/watchlist")
    page.get_by_label("Entity id").fill(petrenko)
    page.get_by_role("button", name="Watch", exact=True).click()
    error = page.get_by_role("alert").filter(has_text="No entity")
    error.wait_for()
    assert "Petrenko" not in page.locator("body").inner_text()
