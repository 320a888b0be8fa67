"""The rest of the API: situation figures, the audit log for supervisors, exports as downloads, ingest jobs."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, timedelta

import api_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api_helpers import bearer, build_world
from intake_helpers import HEADER_LINE, PERSON_MAPPING
from tessera.access import audit, identity
from tessera.access.tables import audit_log
from tessera.api.app import create_app
from tessera.situation.reader import read_series
from tessera.situation.store import import_series

V1 = "/api/v1"


@pytest.fixture
def world(store, tmp_path):
    w = build_world(store, tmp_path)
    with store.engine.begin() as conn:
        identity.add_user(conn, "sam", "UKPOL", "SECRET", "pw-sam", roles=("supervisor",))
        identity.add_user(conn, "fabien", "FRPOL", "SECRET", "pw-fabien", roles=("supervisor",))
        identity.add_user(conn, "root", "NCA", "TOP SECRET", "pw-root", roles=("admin",))
        for name in ("sam", "fabien", "root"):
            w.tokens[name] = identity.create_token(conn, name).token
    return w


@pytest.fixture
def client(world):
    return TestClient(create_app(store=world.store))


def get(client, world, who, path, **params):
    return client.get(V1 + path, params=params, headers=bearer(world.tokens[who]))


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


# --- situation -----------------------------------------------------------------------------------------

@pytest.fixture
def figures(world, tmp_path):
    start = date(2024, 1, 1)
    rows = []
    for i in range(366 + 31):  # 2024 (a leap year) and January 2025
        d = start + timedelta(days=i)
        rows.append((d.isoformat(), 10 + d.month, 1 if d.day % 2 else 0))
    path = tmp_path / "boats.csv"
    path.write_text("full_date,migrants_arrived,boats_arrived\n" + "".join(f"{d},{m},{b}\n" for d, m, b in rows))
    import_series(world.store, read_series(path))
    return rows


def test_situation_total_compare_ytd_and_series(client, world, figures):
    total = get(client, world, "olly", "/situation/total", **{"from": "2024-02-01", "to": "2024-02-29"}).json()
    assert total["people"] == 29 * 12 and total["days_with_data"] == 29 and total["complete"] is True
    ytd = get(client, world, "olly", "/situation/ytd").json()
    assert ytd["period"]["from"] == "2025-01-01" and ytd["period"]["people"] == 31 * 11
    assert ytd["year_earlier"]["people"] == 31 * 11 and ytd["change"]["people"]["difference"] == 0
    compare = get(client, world, "olly", "/situation/compare", **{"from": "2025-01-01", "to": "2025-01-31"}).json()
    assert [y["year"] for y in compare["years"]] == [2024, 2025]
    months = get(client, world, "olly", "/situation/series", by="month", limit=5).json()
    assert months["total"] == 13 and len(months["items"]) == 5
    assert months["items"][1] == {**months["items"][1], "period": "2024-02", "people": 29 * 12}
    assert "offset=5" in months["next"] and months["previous"] is None
    last = client.get(months["next"].replace("offset=5", "offset=10"), headers=bearer(world.tokens["olly"])).json()
    assert [m["period"] for m in last["items"]] == ["2024-11", "2024-12", "2025-01"] and last["next"] is None


def test_situation_refuses_bad_periods_and_says_when_nothing_is_held(client, world, figures):
    problem(get(client, world, "olly", "/situation/total", **{"from": "2024-03-01", "to": "2024-02-01"}), 422)
    problem(get(client, world, "olly", "/situation/ytd", as_of="0001-01-01"), 422)
    problem(get(client, world, "olly", "/situation/series", by="fortnight"), 422)
    problem(client.get(V1 + "/situation/total"), 401)


def test_situation_without_figures_is_404(client, world):
    problem(get(client, world, "olly", "/situation/total"), 404)


# --- audit ---------------------------------------------------------------------------------------------

def test_audit_is_for_supervisors_and_admins_only(client, world):
    problem(get(client, world, "alice", "/audit"), 403)
    problem(get(client, world, "alice", "/audit/verify"), 403)
    assert get(client, world, "root", "/audit/verify").json()["ok"] is True


def test_a_supervisor_sees_their_own_agencys_entries_and_an_admin_all(client, world):
    get(client, world, "alice", "/search", q="Karimi")
    get(client, world, "amelie", "/search", q="Karimi")
    mine = get(client, world, "sam", "/audit", action="search").json()
    assert {e["user"] for e in mine["items"]} == {"alice"}
    theirs = get(client, world, "fabien", "/audit", action="search").json()
    assert {e["user"] for e in theirs["items"]} == {"amelie"}
    everyone = get(client, world, "root", "/audit", action="search", limit=1).json()
    assert everyone["total"] == 2 and len(everyone["items"]) == 1 and everyone["next"]
    newest_first = get(client, world, "root", "/audit", action="search").json()["items"]
    assert newest_first[0]["user"] == "amelie" and newest_first[0]["seq"] > newest_first[1]["seq"]
    only_alice = get(client, world, "root", "/audit", user="alice").json()
    assert only_alice["total"] >= 1 and {e["user"] for e in only_alice["items"]} == {"alice"}


def test_audit_verify_reports_tampering(client, world):
    with world.store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(query="rewritten"))
    verdict = get(client, world, "root", "/audit/verify").json()
    assert verdict["ok"] is False and verdict["broken_seq"] == 2 and verdict["problem"] == "edited"


# --- exports -------------------------------------------------------------------------------------------

def export(client, world, who, **body):
    return client.post(V1 + "/exports", json=body, headers=bearer(world.tokens[who]))


def test_an_ftm_export_holds_only_what_the_caller_may_see_and_is_audited(client, world):
    response = export(client, world, "amelie", kind="ftm", purpose="Op TIDE")
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    text = response.text
    assert "Viktor Petrenko" not in text  # SECRET, UK EYES ONLY
    assert any("الكريمي" in json.dumps(e, ensure_ascii=False) for e in lines)
    seq = int(response.headers["x-tessera-audit-seq"])
    entry = [e for e in audit.show(world.store, user="amelie") if e.seq == seq][0]
    assert entry.action == "export.ftm" and entry.purpose == "Op TIDE"
    mine = export(client, world, "alice", kind="ftm")
    assert "John Smith" in mine.text and "Viktor Petrenko" in mine.text
    assert "SECRET" in mine.headers["x-tessera-marking"]


def test_i2_comes_zipped_with_a_manifest_and_a_release_withholds(client, world):
    response = export(client, world, "alice", kind="i2", for_agency="FRPOL")
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["entities.csv", "links.csv", "manifest.json"]
    entities = archive.read("entities.csv").decode("utf-8")
    assert "Viktor Petrenko" not in entities and "Mohammed Al-Karimi" in entities
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["for_agency"] == "FRPOL" and manifest["withheld_statements"] > 0
    assert "out" not in manifest and int(response.headers["x-tessera-withheld"]) > 0


def test_exports_refuse_unknown_partners_and_bad_kinds(client, world):
    problem(export(client, world, "alice", kind="ftm", for_agency="NOPE"), 403)
    problem(export(client, world, "alice", kind="docx"), 422)


# --- ingest --------------------------------------------------------------------------------------------

def upload(client, world, who, text, agency="UKPOL", mapping=PERSON_MAPPING, **form):
    files = {"file": ("nominals.csv", text.encode("utf-8"), "text/csv")}
    data = dict(agency=agency, mapping=mapping, **form)
    return client.post(V1 + "/ingest", files=files, data=data, headers=bearer(world.tokens[who]))


def events(client, world, who, job):
    with client.stream("GET", f"{V1}/ingest/{job}/events", headers=bearer(world.tokens[who])) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_an_upload_becomes_a_job_with_progress_events_and_its_quarantine(client, world):
    rows = HEADER_LINE + "U1,Aram Tahir,02/02/1990,07700 900321,IQ,1A\n,Keyless Person,01/01/1990,,GB,1A\n"
    response = upload(client, world, "alice", rows, classification="SECRET", grading="2B")
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    seen = events(client, world, "alice", job)
    assert seen[-1][0] == "done" and seen[-1][1]["result"]["records"] == 2
    assert all(kind in ("progress", "done") for kind, _ in seen)
    status = get(client, world, "alice", f"/ingest/{job}").json()
    assert status["state"] == "done" and status["batch"] == seen[-1][1]["batch"]
    quarantined = get(client, world, "alice", f"/ingest/{job}/quarantine").json()
    assert quarantined["total"] == status["result"]["quarantined"] >= 1
    assert quarantined["items"][0]["record_no"] == 2
    found = get(client, world, "alice", "/search", q="Aram Tahir").json()
    assert found["total"] == 1
    assert get(client, world, "olly", "/search", q="Aram Tahir").json()["total"] == 0  # SECRET batch
    # another agency does not learn of the job or its quarantined rows
    problem(get(client, world, "amelie", f"/ingest/{job}"), 404)
    problem(get(client, world, "amelie", f"/ingest/{job}/quarantine"), 404)


def test_an_upload_for_another_agency_or_with_a_broken_mapping_is_refused(client, world):
    problem(upload(client, world, "alice", HEADER_LINE, agency="FRPOL"), 403)
    problem(upload(client, world, "alice", HEADER_LINE, classification="VERY HUSH"), 422)
    response = upload(client, world, "alice", "a,b\n1,2\n")  # the mapping's columns are missing
    assert response.status_code == 202
    last = events(client, world, "alice", response.json()["id"])[-1]
    assert last[0] == "refused" and "column" in last[1]["error"] and "/tmp" not in last[1]["error"]
