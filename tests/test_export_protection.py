"""Exports keep their protection: access, marking banners, audit, sanitised releases, safe CSV."""

from __future__ import annotations

import csv
import json

import export_helpers  # noqa: F401  (cheap argon2)
import pytest

from export_helpers import build_world
from tessera.access import audit
from tessera.export.ftm import export_ftm
from tessera.export.i2 import export_i2
from tessera.export.report import export_report
from tessera.export.selection import ExportRefused, select_for
from tessera.access import identity

UK_ONLY_VALUES = {"Karim Al-Karimi", "Dara Hosseini", "kingpin per MI source", "hawala broker", "P111111",
                  "P222222", "+447700900123", "+447700900456"}


@pytest.fixture
def world(store, tmp_path):
    build_world(store, tmp_path)
    return store


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_french_analysts_export_holds_no_uk_eyes_only_value(world, tmp_path):
    out = tmp_path / "amelie.ftm.jsonl"
    summary = export_ftm(world, "amelie", out)
    text = out.read_text(encoding="utf-8")
    assert summary["entities"] == 4
    assert not [v for v in UK_ONLY_VALUES if v in text]
    assert "Jean Moreau" in text
    assert "UK EYES ONLY" not in text


def test_a_uk_analyst_cleared_for_secret_exports_both_agencies_values(world, tmp_path):
    out = tmp_path / "tom.ftm.jsonl"
    export_ftm(world, "tom", out)
    text = out.read_text(encoding="utf-8")
    assert all(v in text for v in UK_ONLY_VALUES) and "Jean Moreau" in text


def test_an_officer_cleared_only_for_official_exports_no_secret_value(world, tmp_path):
    out = tmp_path / "jo.ftm.jsonl"
    summary = export_ftm(world, "jo", out)
    assert summary["classification"] == "OFFICIAL"
    assert not [v for v in UK_ONLY_VALUES if v in out.read_text(encoding="utf-8")]


def test_the_report_banner_shows_the_highest_included_marking_top_and_bottom(world, tmp_path):
    out = tmp_path / "tom.html"
    export_report(world, "tom", out, purpose="CPS pre-charge advice")
    html = out.read_text(encoding="utf-8")
    top = html.split('id="banner-top">')[1].split("<")[0]
    bottom = html.split('id="banner-bottom">')[1].split("<")[0]
    assert top == bottom == "SECRET – UK EYES ONLY"
    assert "tom (NCA)" in html and "uk_nominals.csv" in html and "fr_nominals.csv" in html
    assert "1A (reliable" in html  # the 3x5x2 grading of the Karim values, spelled out


def test_a_french_analysts_report_is_marked_only_as_high_as_what_it_holds(world, tmp_path):
    out = tmp_path / "amelie.html"
    summary = export_report(world, "amelie", out)
    html = out.read_text(encoding="utf-8")
    assert summary["marking"] == "OFFICIAL"
    assert html.split('id="banner-top">')[1].split("<")[0] == "OFFICIAL"
    assert "Karim" not in html and "SECRET" not in html


def test_a_pdf_report_carries_the_banner_and_the_provenance(world, tmp_path):
    pytest.importorskip("weasyprint")
    pypdf = pytest.importorskip("pypdf")
    out = tmp_path / "tom.pdf"
    summary = export_report(world, "tom", out)
    assert summary["format"] == "pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert text.count("SECRET – UK EYES ONLY") >= 2
    assert "Karim Al-Karimi" in text and "uk_nominals.csv" in text


def test_every_export_leaves_an_audit_entry_with_its_entities_and_purpose_and_the_chain_still_verifies(
        world, tmp_path):
    before = len(audit.show(world))
    summary = export_ftm(world, "amelie", tmp_path / "a.jsonl", purpose="joint investigation OCRIEST")
    entries = audit.show(world)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.user == "amelie" and entry.action == "export.ftm"
    assert entry.purpose == "joint investigation OCRIEST"
    assert len(entry.entities) == summary["entities"] == 4
    assert summary["audit_seq"] == entry.seq
    export_i2(world, "tom", tmp_path / "i2")
    assert audit.show(world)[-1].action == "export.i2"
    assert audit.verify(world).ok


def test_a_disabled_or_unknown_user_gets_no_export_and_no_file(world, tmp_path):
    with world.engine.begin() as conn:
        identity.set_disabled(conn, "amelie")
    with pytest.raises(ExportRefused):
        export_ftm(world, "amelie", tmp_path / "a.jsonl")
    with pytest.raises(ExportRefused):
        export_ftm(world, "nobody", tmp_path / "b.jsonl")
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "b.jsonl").exists()


def test_formulas_are_neutralised_in_the_i2_csv_and_rows_carry_marking_and_grading(world, tmp_path):
    summary = export_i2(world, "tom", tmp_path / "i2")
    with open(tmp_path / "i2" / "entities.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    moreau = next(r for r in rows if r["label"] == "Jean Moreau")
    assert moreau["prop:notes"] == "'=HYPERLINK(\"http://evil\")"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    karim = next(r for r in rows if r["label"] == "Karim Al-Karimi")
    assert (karim["classification"], karim["caveat"]) == ("SECRET", "UK EYES ONLY")
    assert (karim["grading"], karim["source_evaluation"], karim["intelligence_assessment"]) == ("1A", "1", "A")
    assert "uk_nominals.csv#1" in karim["sources"]
    assert moreau["release_to"] == "FR,GB"
    with open(tmp_path / "i2" / "links.csv", encoding="utf-8") as fh:
        links = list(csv.DictReader(fh))
    assert len(links) == 4 and {link["link_type"] for link in links} == {"holder"}
    ids = {r["entity_id"] for r in rows}
    assert all(link["from_id"] in ids and link["to_id"] in ids for link in links)
    assert summary["marking"] == "SECRET – UK EYES ONLY"


def test_the_store_keeps_the_formula_as_it_was_while_the_csv_neutralises_it(world, tmp_path):
    export_i2(world, "tom", tmp_path / "i2")
    raw = (tmp_path / "i2" / "entities.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in raw and ",=HYPERLINK" not in raw
    assert "'+33612345678" in raw  # a leading plus would be a formula too
    stored = [s.value for s in select_for(world, "tom").statements if s.prop == "notes"]
    assert '=HYPERLINK("http://evil")' in stored


def test_a_sanitised_release_to_france_withholds_uk_eyes_only_and_says_how_much(world, tmp_path):
    out = tmp_path / "release.ftm.jsonl"
    summary = export_ftm(world, "tom", out, for_agency="FRPOL", purpose="request from PAF")
    text = out.read_text(encoding="utf-8")
    assert not [v for v in UK_ONLY_VALUES if v in text]
    assert summary["for_agency"] == "FRPOL" and summary["marking"] == "OFFICIAL"
    assert summary["withheld"] == [dict(classification="SECRET", caveat="UK EYES ONLY", statements=10)]
    manifest = json.loads((tmp_path / "release.ftm.jsonl.manifest.json").read_text())
    assert manifest["withheld_statements"] == 10 and manifest["requested_by"] == "tom"
    assert not [v for v in UK_ONLY_VALUES if v in json.dumps(manifest)]


def test_a_sanitised_release_cannot_hold_more_than_the_requester_may_see(world, tmp_path):
    junior = select_for(world, "jo", for_agency="FRPOL")
    assert junior.withheld == []  # jo cannot see the SECRET values, so cannot even count them
    assert {s.marking.classification for s in junior.statements} == {"OFFICIAL"}


def test_a_release_to_germany_withholds_what_was_released_only_to_gb_and_fr(world, tmp_path):
    out = tmp_path / "bka.html"
    summary = export_report(world, "tom", out, for_agency="BKA")
    html = out.read_text(encoding="utf-8")
    assert summary["entities"] == 0 and summary["withheld_statements"] == 20
    assert {(w["classification"], w["caveat"]) for w in summary["withheld"]} == {
        ("SECRET", "UK EYES ONLY"), ("OFFICIAL", None)}
    assert "Jean Moreau" not in html and "20 value(s)" in html


def test_an_export_of_one_subject_holds_that_subject_and_what_links_to_it(world, tmp_path):
    karim = next(e.id for e in select_for(world, "tom").entities.values() if e.caption == "Karim Al-Karimi")
    selection = select_for(world, "tom", entity_ids=[karim])
    assert {e.caption for e in selection.entities.values()} == {"Karim Al-Karimi", "P111111"}
    assert [link.target for link in selection.links()] == [karim]


def test_a_release_to_an_unknown_agency_is_refused(world, tmp_path):
    with pytest.raises(ExportRefused):
        export_ftm(world, "tom", tmp_path / "x.jsonl", for_agency="NOPE")
