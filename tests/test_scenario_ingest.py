"""Every scenario export ingests through its mapping; only the deliberately bad rows go to quarantine."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import select

from tessera.scenario.generate import generate

pipeline = pytest.importorskip("tessera.intake.pipeline")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario-ingest") / "w"
    generate(out, 500, seed=11)
    return out


def test_every_file_ingests_with_only_the_bad_rows_quarantined(scenario, store):
    from tessera.store import tables

    entries = json.loads((scenario / "manifest.json").read_text(encoding="utf-8"))["files"]
    expected_bad: dict[tuple[str, str], set[int]] = {}
    with open(scenario / "truth/bad_rows.csv", encoding="utf-8") as fh:
        for b in csv.DictReader(fh):
            expected_bad.setdefault((b["agency"], b["file"]), set()).add(int(b["row"]))
    for e in entries:
        marking = pipeline.BatchMarking.make(e["classification"], e["caveat"], e["release_to"], e["grading"])
        path = scenario / e["file"]
        mapping = scenario / e["mapping"] if e["mapping"] else None
        result = pipeline.ingest_file(store, path, e["holder"], mapping, marking)
        assert result.records == e["rows"], e["file"]
        assert result.entities > 0, e["file"]
        with store.engine.connect() as conn:
            rows = conn.execute(select(tables.quarantine.c.record_no, tables.quarantine.c.reason)
                                .where(tables.quarantine.c.batch_id == result.batch_id)).all()
        got = {r.record_no for r in rows}
        assert got == expected_bad.get((e["holder"], path.name), set()), (e["file"], rows)
