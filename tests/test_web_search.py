"""Search and profiles in Chromium, as analysts of two agencies: across scripts, pointers instead of another
agency's secret, values with provenance and marking, and the marking banner raised by what is on screen."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from web_helpers import *  # noqa: F401,F403
from web_helpers import login, offsite

from intake_helpers import HEADER_LINE, mapping_file, write
from tessera.intake.pipeline import BatchMarking, ingest_file
from tessera.resolve.engine import resolve
from tessera.store.store import Store


def search(page, q: str) -> None:
    box = page.get_by_label("Name, phone, document, plate or account")
    box.fill(q)
    box.press("Enter")
    page.locator("#search-status").filter(has_text=re.compile(r"result")).wait_for()


def banner(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-marking-banner]").all_inner_texts()]


def test_a_latin_query_finds_the_arabic_and_latin_spellings(page, web_server):
    login(page, web_server, "alice")
    search(page, "Muhammad Karimi")
    text = page.locator("#results").inner_text()
    assert "محمد الكريمي" in text and "Mohammed Al-Karimi" in text
    assert "John Smith" not in text
    assert page.url.endswith("/search?q=Muhammad%20Karimi")
    # UKPOL's OFFICIAL-SENSITIVE values are the highest on screen; alice's SECRET clearance is not the banner
    page.locator("#results .markings .tag").first.wait_for()
    assert banner(page) == ["OFFICIAL-SENSITIVE"] * 2


def test_a_phone_typed_as_dialled_finds_its_subject(page, web_server):
    login(page, web_server, "alice")
    search(page, "07700 900123")
    assert "Mohammed Al-Karimi" in page.locator("#results").inner_text()


def test_another_agency_sees_a_pointer_and_never_the_secret_values(page, web_server):
    login(page, web_server, "amelie")          # FRPOL: MI's SECRET UK EYES ONLY record is not for her
    search(page, "07700 900555")
    pointer = page.locator("[data-pointer]")
    assert pointer.count() == 1
    said = pointer.inner_text()
    assert "Agency MI holds this subject" in said
    assert "MI liaison officer" in said
    assert re.search(r"Reference: [0-9a-f]{64}", said)
    body = page.locator("body").inner_text()
    for secret in ("Viktor", "Petrenko", "1980", "UA", "+447700900555"):
        assert secret not in body
    assert page.locator("#results li").count() == 0
    assert banner(page) == ["OFFICIAL", "OFFICIAL"]


def test_the_owner_side_sees_the_values_and_the_banner_rises_to_secret(page, web_server):
    login(page, web_server, "alice")           # UKPOL, SECRET, British: may see MI's record
    search(page, "07700 900555")
    assert page.locator("[data-pointer]").count() == 0
    page.locator("#results .markings .tag").first.wait_for()
    assert banner(page) == ["SECRET · UK EYES ONLY"] * 2
    page.get_by_role("link", name="Viktor Petrenko").click()
    page.locator("#values tbody tr").first.wait_for()
    rows = page.locator("#values tbody tr")
    assert {rows.nth(i).get_attribute("data-agency") for i in range(rows.count())} == {"MI"}
    assert "1B" in page.locator("#values").inner_text()
    assert banner(page) == ["SECRET · UK EYES ONLY"] * 2


def test_a_profile_shows_each_value_with_agency_date_grading_and_marking(page, web_server):
    login(page, web_server, "alice")
    search(page, "Muhammad Karimi")
    link = page.locator("#results li h3 a").filter(has_text="Mohammed Al-Karimi").first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{href}")
    page.locator("#values tbody tr").first.wait_for()
    names = page.locator('#values tbody tr[data-prop="name"]')
    assert "Mohammed Al-Karimi" in names.all_inner_texts()[0] or "Mohammed Al-Karimi" in " ".join(names.all_inner_texts())
    ukpol = page.locator('#values tbody tr[data-agency="UKPOL"]').first.locator("td").all_inner_texts()
    # value, agency, received, grading, marking, source
    assert ukpol[1] == "UKPOL"
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", ukpol[2])
    assert ukpol[3] == "1A"
    assert ukpol[4].startswith("OFFICIAL-SENSITIVE")
    assert "row" in ukpol[5]
    # the highest marking on screen: OFFICIAL-SENSITIVE (alice is cleared SECRET, but nothing SECRET is shown)
    assert banner(page) == ["OFFICIAL-SENSITIVE"] * 2


def test_an_officer_cleared_official_gets_pointers_not_sensitive_values(page, web_server):
    login(page, web_server, "olly")
    search(page, "07700 900555")
    assert "Agency MI holds this subject" in page.locator("#pointers").inner_text()
    assert "Petrenko" not in page.locator("body").inner_text()


def test_search_and_profile_by_keyboard_alone(page, web_server):
    login(page, web_server, "alice")
    expect(page.locator("#q")).to_be_focused()  # the search box has focus on arrival
    page.keyboard.type("John Smith")
    page.keyboard.press("Enter")
    page.locator("#results li").first.wait_for()
    page.keyboard.press("Tab")                  # from the box to the Search button
    page.keyboard.press("Tab")                  # to the first result's link
    assert page.evaluate("document.activeElement.textContent") == "John Smith"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/entities/"))
    page.locator("#values tbody tr").first.wait_for()
    assert offsite(page.context.requests) == []


def test_an_unknown_entity_says_so(page, web_server):
    login(page, web_server, "alice")
    page.goto("/entities/no-such-entity")
    status = page.locator("#entity-status")
    status.filter(has_text="No entity").wait_for()
    assert status.get_attribute("role") == "alert"


def test_the_banner_markings_route_says_nothing_of_what_the_caller_may_not_see(web_server):
    petrenko = web_server.api("alice", "GET", "/search", params={"q": "Viktor Petrenko"}).json()["results"][0]["id"]
    smith = web_server.api("alice", "GET", "/search", params={"q": "John Smith"}).json()["results"][0]["id"]

    def markings(user):
        response = httpx.get(f"{web_server.url}/web/markings", params=[("id", petrenko), ("id", smith)],
                             headers={"Authorization": f"Bearer {web_server.tokens[user]}"}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    assert markings("alice") == {petrenko: {"classification": "SECRET", "caveat": "UK EYES ONLY"},
                                 smith: {"classification": "OFFICIAL-SENSITIVE", "caveat": None}}
    assert markings("amelie") == {smith: {"classification": "OFFICIAL-SENSITIVE", "caveat": None}}
    assert httpx.get(f"{web_server.url}/web/markings", params={"id": smith}, timeout=30).status_code == 401


def test_a_profile_points_to_another_agencys_secret_record_of_the_same_subject(page, web_server, tmp_path):
    # UKPOL and MI both hold Samir Haddad; MI's record is SECRET UK EYES ONLY. Resolution joins them.
    store = Store.open(f"sqlite:///{web_server.db}")
    try:
        mapping = mapping_file(tmp_path)
        row = "{ref},Samir Haddad,09/09/1979,07700 900777,{nat},\n"
        ingest_file(store, write(tmp_path / "ukpol.csv", HEADER_LINE + row.format(ref="N50", nat="GB")), "UKPOL",
                    mapping, BatchMarking.make("OFFICIAL"))
        ingest_file(store, write(tmp_path / "mi.csv", HEADER_LINE + row.format(ref="M50", nat="LB")), "MI", mapping,
                    BatchMarking.make("SECRET", caveat="UK EYES ONLY", grading="1B"))
        resolve(store)
    finally:
        store.close()
    found = web_server.api("alice", "GET", "/search", params={"q": "Samir Haddad"}).json()["results"]
    assert [r["agencies"] for r in found] == [["MI", "UKPOL"]]
    haddad = found[0]["id"]

    login(page, web_server, "amelie", next_path=f"/entities/{haddad}")
    pointer = page.locator("#pointers [data-pointer]")
    pointer.first.wait_for()
    assert pointer.count() == 1
    assert "Agency MI holds this subject" in pointer.inner_text() and "MI liaison officer" in pointer.inner_text()
    rows = page.locator("#values tbody tr")
    assert {rows.nth(i).get_attribute("data-agency") for i in range(rows.count())} == {"UKPOL"}
    assert "LB" not in page.locator("#values").inner_text().upper().split()
    assert banner(page) == ["OFFICIAL", "OFFICIAL"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    login(page, web_server, "alice", next_path=f"/entities/{haddad}")
    page.locator('#values tbody tr[data-agency="MI"]').first.wait_for()
    assert page.locator("#pointers-section").is_hidden()
    assert banner(page) == ["SECRET · UK EYES ONLY"] * 2
