"""Judgements and explanations on a profile in Chromium: why two records were merged, with weighed comparisons;
an analyst says two records are not the same, with a reason; the
form refuses a judgement without one; another agency's analyst sees the judgement on the same subject."""

from __future__ import annotations

import re

from web_helpers import *  # noqa: F401,F403
from web_helpers import login


def karimi(web_server, user: str = "alice") -> dict:
    found = web_server.api(user, "GET", "/search", params={"q": "Muhammad Karimi"}).json()["results"]
    cid = next(r["id"] for r in found if "Mohammed Al-Karimi" in r["names"])
    return web_server.api(user, "GET", f"/entities/{cid}").json()


def source_of(profile: dict, agency: str) -> str:
    return next(v["source_entity"] for v in profile["values"] if v["agency"] == agency)


def test_a_not_same_judgement_with_its_reason_is_recorded_and_listed(page, web_server):
    profile = karimi(web_server)
    ukpol, frpol = source_of(profile, "UKPOL"), source_of(profile, "FRPOL")
    login(page, web_server, "alice", next_path=f"/entities/{profile['id']}")
    form = page.locator("#judge-form")
    form.wait_for()
    page.get_by_role("radio", name="Not the same").check()
    page.get_by_label("This record").select_option(ukpol)
    page.get_by_label("The other record (entity or record id)").fill(frpol)
    page.get_by_label("Reason").fill("Different fathers' names in the two interview records")
    page.get_by_role("button", name="Record judgement").click()
    page.locator("#judge-status").filter(has_text="recorded").wait_for()

    listed = page.locator("#judgements li").filter(has_text="fathers' names")
    listed.wait_for()
    assert "Not the same" in listed.inner_text() and "alice (UKPOL)" in listed.inner_text()
    stored = web_server.api("alice", "GET", "/judgements", params={"entity": profile["id"]}).json()["judgements"]
    mine = [j for j in stored if j["reason"] == "Different fathers' names in the two interview records"]
    assert len(mine) == 1
    assert (mine[0]["kind"], mine[0]["a"], mine[0]["b"], mine[0]["user"]) == ("not-same", ukpol, frpol, "alice")


def test_a_judgement_without_a_reason_is_not_sent(page, web_server):
    profile = karimi(web_server)
    before = len(web_server.api("alice", "GET", "/judgements").json()["judgements"])
    login(page, web_server, "alice", next_path=f"/entities/{profile['id']}")
    page.locator("#judge-form").wait_for()
    page.get_by_label("The other record (entity or record id)").fill(source_of(profile, "FRPOL"))
    page.get_by_role("button", name="Record judgement").click()
    error = page.locator("#judge-error")
    error.filter(has_text="Give a reason").wait_for()
    assert error.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.id") == "judge-reason"
    assert len(web_server.api("alice", "GET", "/judgements").json()["judgements"]) == before


def test_a_contradicting_judgement_is_refused_with_the_servers_reason(page, web_server):
    profile = karimi(web_server)
    ukpol, frpol = source_of(profile, "UKPOL"), source_of(profile, "FRPOL")
    web_server.api("alice", "POST", "/judgements", json=dict(kind="not-same", a=ukpol, b=frpol,
                                                              reason="Seen in two places at once"))
    login(page, web_server, "amelie", next_path=f"/entities/{profile['id']}")
    page.locator("#judge-form").wait_for()
    page.get_by_role("radio", name="Same real-world entity").check()
    page.get_by_label("This record").select_option(frpol)
    page.get_by_label("The other record (entity or record id)").fill(ukpol)
    page.get_by_label("Reason").fill("Same date of birth and father's name")
    page.get_by_role("button", name="Record judgement").click()
    error = page.locator("#judge-error")
    error.filter(has_text="Not recorded").wait_for()
    assert "contradicts" in error.inner_text()


def test_the_profile_explains_the_merge_with_its_weighed_comparisons(page, web_server):
    profile = karimi(web_server)
    assert len(profile["source_entities"]) == 2
    login(page, web_server, "alice", next_path=f"/entities/{profile['id']}")
    box = page.locator("[data-explain]")
    box.first.wait_for()
    text = box.first.inner_text()
    assert "UKPOL" in text and "FRPOL" in text
    assert re.search(r"Matched: total weight [\d.]+ against a threshold of [\d.]+", text)
    rows = box.first.locator("tbody tr")
    comparisons = {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").all_inner_texts()
                   for i in range(rows.count())}
    assert comparisons["dob"][0] == "exact" and comparisons["dob"][1].startswith("+")
