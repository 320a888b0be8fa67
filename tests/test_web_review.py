"""The review page in Chromium: the pairs the resolver was least sure of, closest to the threshold first, with
both records' names linked to their entities; an analyst judges one not the same with a reason and it leaves the
queue; a judgement without a reason is not sent; a contradicting one shows the server's refusal; "More" pages on;
a pair with a record the viewer may not see is not listed to them.

The shared server's world has four people: UKPOL's Karimi and Smith, FRPOL's Karimi (one entity with UKPOL's) and
MI's Petrenko (SECRET, UK EYES ONLY). Each test queues its own pairs (record_review replaces the queue) in the
server's store; judgements made here keep apart records that are apart already, so other tests see no change."""

from __future__ import annotations

from contextlib import closing

import pytest

from web_helpers import *  # noqa: F401,F403
from web_helpers import login
from tessera.resolve.review import record_review
from tessera.store.store import Store

THRESHOLD = 1.5
KARIMI, KARIMI_AR, SMITH, PETRENKO = "Mohammed Al-Karimi", "محمد الكريمي", "John Smith", "Viktor Petrenko"


def profile_of(web_server, q: str, name: str, user: str = "alice") -> dict:
    found = web_server.api(user, "GET", "/search", params={"q": q}).json()["results"]
    cid = next(r["id"] for r in found if name in r["names"])
    return web_server.api(user, "GET", f"/entities/{cid}").json()


def source_of(profile: dict, agency: str) -> str:
    return next(v["source_entity"] for v in profile["values"] if v["agency"] == agency)


@pytest.fixture(scope="module")
def people(web_server) -> dict:
    """Source record id and canonical entity id of each person, by short name."""
    karimi = profile_of(web_server, "Muhammad Karimi", KARIMI)
    smith = profile_of(web_server, SMITH, SMITH)
    petrenko = profile_of(web_server, PETRENKO, PETRENKO)
    out = dict(k=(source_of(karimi, "UKPOL"), karimi["id"]), ar=(source_of(karimi, "FRPOL"), karimi["id"]),
               s=(source_of(smith, "UKPOL"), smith["id"]), p=(source_of(petrenko, "MI"), petrenko["id"]))
    assert len({sid for sid, _ in out.values()}) == 4
    return out


def queue(web_server, people, run_id: int, pairs: list[tuple[str, str, float]]) -> None:
    """Put these pairs (short names, match weight) in the server's review queue in place of what it held."""
    with closing(Store.open(f"sqlite:///{web_server.db}")) as store, store.engine.begin() as connection:
        stored = record_review(connection, run_id, [people[x][0] for x, _, _ in pairs],
                               [people[y][0] for _, y, _ in pairs], [w for _, _, w in pairs], THRESHOLD, replace=True)
    assert stored == len(pairs)


def listed(web_server, user: str, **params) -> list[dict]:
    return web_server.api(user, "GET", "/review", params=params).json()["items"]


def ids(item: dict) -> frozenset:
    return frozenset((item["a"], item["b"]))


def pair(people, x: str, y: str) -> frozenset:
    return frozenset((people[x][0], people[y][0]))


def rows_of(page) -> list[dict]:
    """What the page shows of each pair still to judge: the two records' ids, names, links, margin and state."""
    page.locator("#review-status").filter(has_not_text="Loading").wait_for()
    out = []
    rows = page.locator("#review-pairs tbody tr:not([data-judged])")
    for i in range(rows.count()):
        row = rows.nth(i)
        links = row.locator("a")
        out.append(dict(ids=frozenset((row.get_attribute("data-a"), row.get_attribute("data-b"))),
                        a=row.get_attribute("data-a"), b=row.get_attribute("data-b"),
                        names=[links.nth(0).inner_text(), links.nth(1).inner_text()],
                        hrefs=[links.nth(0).get_attribute("href"), links.nth(1).get_attribute("href")],
                        margin=row.locator(".margin-value").inner_text(),
                        state=row.locator("td").nth(3).inner_text()))
    return out


NAMES = dict(k=KARIMI, ar=KARIMI_AR, s=SMITH, p=PETRENKO)


def row_of(page, people, x: str, y: str):
    a, b = sorted((people[x][0], people[y][0]))
    return page.locator(f'#review-pairs tbody tr[data-a="{a}"][data-b="{b}"]')


def names_of(people, x: str, y: str) -> list[str]:
    """The two names as a row shows them: the queue stores a pair's lesser record id first."""
    return [NAMES[z] for z in sorted((x, y), key=lambda z: people[z][0])]


def reason_of(page, people, x: str, y: str):
    first, second = names_of(people, x, y)
    return row_of(page, people, x, y).get_by_label(f"Reason for judging {first} and {second}", exact=True)


def karimis_ruled(web_server, people) -> bool:
    """Whether a judgement (made by test_web_judgements when it ran first) already rules on the two Karimis."""
    both = pair(people, "k", "ar")
    judgements = web_server.api("alice", "GET", "/judgements").json()["judgements"]
    return any(frozenset((j["a"], j["b"])) == both for j in judgements)


def test_pairs_are_listed_closest_to_the_threshold_first_and_one_judged_not_the_same_leaves(page, web_server, people):
    # margins: Smith~FRPOL Karimi -0.20, Karimi~Smith +0.50, Smith~Petrenko -1.00, FRPOL Karimi~Petrenko +2.00,
    # the two Karimis (one entity) +3.00
    queue(web_server, people, 9001,
          [("s", "ar", 1.3), ("k", "s", 2.0), ("s", "p", 0.5), ("ar", "p", 3.5), ("k", "ar", 4.5)])
    login(page, web_server, "alice", next_path="/review")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Review").get_attribute("aria-current") == "page"

    rows = rows_of(page)
    expected = [pair(people, "s", "ar"), pair(people, "k", "s"), pair(people, "s", "p"), pair(people, "ar", "p")]
    karimis_listed = not karimis_ruled(web_server, people)
    assert [r["ids"] for r in rows] == expected + ([pair(people, "k", "ar")] if karimis_listed else [])
    assert [r["margin"] for r in rows] == ["-0.20", "+0.50", "-1.00", "+2.00"] + (["+3.00"] if karimis_listed else [])
    assert [r["state"] for r in rows] == ["apart"] * 4 + (["joined"] if karimis_listed else [])
    name = {people[x][0]: n for x, n in NAMES.items()}
    entity = {sid: f"/entities/{cid}" for sid, cid in people.values()}
    for r in rows:
        assert r["names"] == [name[r["a"]], name[r["b"]]]
        assert r["hrefs"] == [entity[r["a"]], entity[r["b"]]]
    # the page shows what the API lists, in its order
    assert [r["ids"] for r in rows] == [ids(i) for i in listed(web_server, "alice")]
    status = page.locator("#review-status").inner_text()
    assert status == f"{len(rows)} pairs to review, closest to the threshold first."
    page.locator(".marking-top").filter(has_text="SECRET").wait_for()  # Petrenko's record is named on the page
    assert page.locator(".marking-top").inner_text() == "SECRET · UK EYES ONLY"

    smith_petrenko = row_of(page, people, "s", "p")
    reason_of(page, people, "s", "p").fill("Different dates of birth and nationality")
    smith_petrenko.get_by_role("button", name="Not the same", exact=True).click()
    done = smith_petrenko.locator("td.judged")
    done.wait_for()
    judgement_id = int(done.get_attribute("data-judgement"))
    assert done.locator("strong").inner_text() == f"Judged not the same — #{judgement_id}"
    assert page.evaluate("document.activeElement.getAttribute('data-judgement')") == str(judgement_id)
    assert f"(judgement #{judgement_id})" in page.locator("#review-status").inner_text()

    stored = web_server.api("alice", "GET", "/judgements").json()["judgements"]
    mine = [j for j in stored if j["id"] == judgement_id]
    assert len(mine) == 1
    assert (mine[0]["kind"], frozenset((mine[0]["a"], mine[0]["b"])), mine[0]["reason"], mine[0]["user"]) == \
        ("not-same", pair(people, "s", "p"), "Different dates of birth and nationality", "alice")

    page.reload()
    after = rows_of(page)
    assert [r["ids"] for r in after] == [pair(people, "s", "ar"), pair(people, "k", "s"), pair(people, "ar", "p")] + \
        ([pair(people, "k", "ar")] if karimis_listed else [])
    assert row_of(page, people, "s", "p").count() == 0


def test_same_without_a_reason_shows_an_error_and_posts_nothing(page, web_server, people):
    queue(web_server, people, 9002, [("s", "ar", 1.2), ("k", "s", 2.5)])
    before = web_server.api("alice", "GET", "/judgements").json()["judgements"]
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    login(page, web_server, "alice", next_path="/review")
    assert [r["ids"] for r in rows_of(page)] == [pair(people, "s", "ar"), pair(people, "k", "s")]
    posted.clear()  # the sign-in itself posted

    row = row_of(page, people, "s", "ar")
    row.get_by_role("button", name="Same", exact=True).click()
    error = row.get_by_role("alert")
    error.filter(has_text="Give a reason").wait_for()
    assert error.inner_text() == "Give a reason for the judgement."
    reason = reason_of(page, people, "s", "ar")
    assert reason.evaluate("node => node === document.activeElement")
    assert reason.get_attribute("aria-invalid") == "true"
    assert reason.get_attribute("aria-describedby") == error.get_attribute("id")
    page.wait_for_timeout(300)
    assert [u for u in posted if "/judgements" in u] == []
    assert web_server.api("alice", "GET", "/judgements").json()["judgements"] == before
    assert row.locator("td.judged").count() == 0 and row.get_by_role("button", name="Same", exact=True).is_enabled()

    # a reason of blanks only is no reason either
    reason.fill("   ")
    row.get_by_role("button", name="Same", exact=True).click()
    error.filter(has_text="Give a reason").wait_for()
    page.wait_for_timeout(300)
    assert [u for u in posted if "/judgements" in u] == []


def test_a_pair_with_a_record_the_viewer_may_not_see_is_not_listed_to_them(page, web_server, people):
    # FRPOL Karimi~Petrenko is closest, but amelie (FRPOL) may not see MI's UK EYES ONLY record
    queue(web_server, people, 9003, [("ar", "p", 1.45), ("s", "ar", 1.8), ("k", "p", 0.9)])
    assert [ids(i) for i in listed(web_server, "alice")] == [pair(people, "ar", "p"), pair(people, "s", "ar"),
                                                             pair(people, "k", "p")]
    login(page, web_server, "amelie", next_path="/review")
    rows = rows_of(page)
    assert [r["ids"] for r in rows] == [pair(people, "s", "ar")]
    assert [r["names"] for r in rows] == [names_of(people, "s", "ar")] and [r["margin"] for r in rows] == ["+0.30"]
    assert PETRENKO not in page.locator("main").inner_text()
    assert people["p"][0] not in page.content()
    assert page.locator("#review-status").inner_text() == "1 pair to review, closest to the threshold first."


def test_nothing_to_review_when_no_pair_is_visible(page, web_server, people):
    # olly (UKPOL, OFFICIAL) sees only FRPOL's Karimi: no pair has both records visible to him
    queue(web_server, people, 9004, [("ar", "p", 1.45), ("s", "ar", 1.8)])
    assert len(listed(web_server, "alice")) == 2
    login(page, web_server, "olly", next_path="/review")
    status = page.locator("#review-status")
    status.filter(has_text="Nothing to review.").wait_for()
    assert status.inner_text() == "Nothing to review."
    assert page.locator("#review-pairs").is_hidden()
    assert page.locator("#review-pairs tbody tr").count() == 0
    assert page.get_by_role("button", name="More").is_hidden()


def test_a_contradicting_judgement_shows_the_servers_refusal_in_its_row(page, web_server, people):
    queue(web_server, people, 9005, [("k", "s", 1.6), ("s", "ar", 1.0)])
    login(page, web_server, "alice", next_path="/review")
    assert [r["ids"] for r in rows_of(page)] == [pair(people, "k", "s"), pair(people, "s", "ar")]
    earlier = web_server.api("amelie", "POST", "/judgements",
                             json=dict(kind="not-same", a=people["k"][0], b=people["s"][0], reason="Different people"))
    assert earlier.status_code == 201

    row = row_of(page, people, "k", "s")
    reason_of(page, people, "k", "s").fill("Same phone")
    row.get_by_role("button", name="Same", exact=True).click()
    error = row.get_by_role("alert")
    error.filter(has_text="Not recorded").wait_for()
    assert f"contradicts judgement(s) #{earlier.json()['id']}" in error.inner_text()
    same = row.get_by_role("button", name="Same", exact=True)
    assert row.locator("td.judged").count() == 0 and same.is_enabled()
    assert same.evaluate("node => node === document.activeElement")  # back on the button pressed
    reasons = [j["reason"] for j in web_server.api("alice", "GET", "/judgements").json()["judgements"]]
    assert "Same phone" not in reasons and "Different people" in reasons


def test_more_loads_the_next_page_after_the_pairs_judged_on_this_one(page, web_server, people):
    # unjudged pairs left by the tests above: Smith~FRPOL Karimi, FRPOL Karimi~Petrenko, Karimi~Petrenko
    queue(web_server, people, 9006, [("s", "ar", 1.4), ("ar", "p", 1.7), ("k", "p", 0.8)])
    login(page, web_server, "alice", next_path="/review?limit=2")
    assert [r["ids"] for r in rows_of(page)] == [pair(people, "s", "ar"), pair(people, "ar", "p")]
    more = page.get_by_role("button", name="More")
    assert more.is_visible()

    row = row_of(page, people, "ar", "p")
    reason_of(page, people, "ar", "p").fill("Born five years apart")
    row.get_by_role("button", name="Not the same", exact=True).click()
    row.locator("td.judged").wait_for()

    more.focus()
    page.keyboard.press("Enter")
    page.locator("#review-status").filter(has_text="1 more pair listed").wait_for()
    shown = rows_of(page)
    # the judged pair left the queue, so the next page starts one sooner: nothing is skipped
    assert [r["ids"] for r in shown] == [pair(people, "s", "ar"), pair(people, "k", "p")]
    assert shown[1]["margin"] == "-0.70" and shown[1]["names"] == names_of(people, "k", "p")
    assert more.is_hidden()
    assert page.evaluate("document.activeElement.getAttribute('href')") == shown[1]["hrefs"][0]
    assert page.locator("#review-pairs tbody tr[data-judged]").count() == 1
