"""Export formats read back: FtM round trip through intake, GraphML/GEXF through networkx, the CLI."""

from __future__ import annotations

import json

import export_helpers  # noqa: F401  (cheap argon2)
import networkx as nx
import pytest
from followthemoney import model
from sqlalchemy import update
from typer.testing import CliRunner

from export_helpers import build_world
from tessera.access import audit
from tessera.cli import app
from tessera.export.ftm import export_ftm
from tessera.export.graph import export_graph
from tessera.export.selection import select_for
from tessera.intake.pipeline import ingest_file
from tessera.store import tables
from tessera.store.store import Store


@pytest.fixture
def world(store, tmp_path):
    build_world(store, tmp_path)
    return store


def _entities(selection, strip: str = "") -> dict:
    out = {}
    for e in selection.entities.values():
        props = {}
        for s in e.statements:
            value = s.value[len(strip):] if strip and s.prop_type == "entity" else s.value
            props.setdefault(s.prop, set()).add(value)
        out[e.id[len(strip):] if strip else e.id] = (e.schema, props)
    return out


def test_an_ftm_export_is_a_valid_entity_stream_with_provenance_beside_each_value(world, tmp_path):
    out = tmp_path / "tom.ftm.jsonl"
    export_ftm(world, "tom", out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 8
    for line in lines:
        proxy = model.get_proxy(line, cleaned=False)  # followthemoney reads it
        assert proxy.schema.name in ("Person", "Passport") and proxy.id == line["id"]
        for prop, values in line["properties"].items():
            assert sorted(values) == sorted({p["value"] for p in line["tessera:provenance"][prop]})
    karim = next(line for line in lines if line["properties"].get("name") == ["Karim Al-Karimi"])
    assert karim["tessera:marking"] == "SECRET – UK EYES ONLY"
    name = karim["tessera:provenance"]["name"][0]
    assert (name["agency"], name["file"], name["row"], name["grading"]) == ("NCA", "uk_nominals.csv", 1, "1A")
    assert name["received_at"]


def test_an_ftm_export_reimported_as_a_stream_holds_the_same_values(world, tmp_path):
    out = tmp_path / "tom.ftm.jsonl"
    export_ftm(world, "tom", out)
    store2 = Store.open(f"sqlite:///{tmp_path / 'second.db'}")
    try:
        build_world_users_only(store2)
        result = ingest_file(store2, out, "REIMPORT", None)
        assert result.file_format == "ftm" and result.quarantined == 0 and result.entities == 8
        again = select_for(store2, "reader")
        assert _entities(again, strip="reimport.") == _entities(select_for(world, "tom"))
    finally:
        store2.close()


def build_world_users_only(store):
    from tessera.access import identity
    with store.engine.begin() as conn:
        identity.add_agency(conn, "REIMPORT", "GB")
        identity.add_user(conn, "reader", "REIMPORT", "OFFICIAL", "pw")


def test_a_resolved_entity_is_exported_once_under_its_canonical_id(world, tmp_path):
    people = {e.caption: e.id for e in select_for(world, "tom").entities.values() if e.schema == "Person"}
    with world.engine.begin() as conn:
        for name in ("Karim Al-Karimi", "Jean Moreau"):
            conn.execute(update(tables.entities).where(tables.entities.c.id == people[name])
                         .values(canonical_id="case-subject-1"))
    out = tmp_path / "merged.jsonl"
    export_ftm(world, "tom", out)
    lines = {line["id"]: line for line in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    merged = lines["case-subject-1"]
    assert sorted(merged["properties"]["name"]) == ["Jean Moreau", "Karim Al-Karimi"]
    assert merged["tessera:marking"] == "SECRET – UK EYES ONLY"
    assert {p["agency"] for p in merged["tessera:provenance"]["name"]} == {"NCA", "FRPOL"}
    holders = [line["properties"]["holder"][0] for line in lines.values() if line["schema"] == "Passport"]
    assert holders.count("case-subject-1") == 2 and people["Karim Al-Karimi"] not in holders
    # a French analyst sees the merged entity with only the French values in it
    out_fr = tmp_path / "merged_fr.jsonl"
    export_ftm(world, "amelie", out_fr)
    fr = {line["id"]: line for line in map(json.loads, out_fr.read_text(encoding="utf-8").splitlines())}
    assert fr["case-subject-1"]["properties"]["name"] == ["Jean Moreau"]


@pytest.mark.parametrize("kind, read", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_a_graph_export_reads_back_with_networkx_with_markings_on_nodes_and_edges(world, tmp_path, kind, read):
    out = tmp_path / f"tom.{kind}"
    summary = export_graph(world, "tom", out, kind, purpose="network chart")
    G = read(out)
    assert G.number_of_nodes() == summary["nodes"] == 8 and G.number_of_edges() == summary["edges"] == 4
    labels = {data["label"]: (node, data) for node, data in G.nodes(data=True)}
    karim, data = labels["Karim Al-Karimi"]
    assert data["marking"] == "SECRET – UK EYES ONLY" and data["grading"] == "1A"
    passport, _ = labels["P111111"]
    edge = G.get_edge_data(passport, karim)
    edge = next(iter(edge.values())) if G.is_multigraph() else edge
    assert edge["link_type"] == "holder" and edge["classification"] == "SECRET"
    assert audit.show(world)[-1].action == f"export.{kind}"


def test_a_french_analysts_graph_holds_only_french_nodes(world, tmp_path):
    out = tmp_path / "amelie.graphml"
    export_graph(world, "amelie", out, "graphml")
    G = nx.read_graphml(out)
    assert {d["label"] for _, d in G.nodes(data=True)} == {"Jean Moreau", "Luc Bernard", "F333333", "F444444"}
    assert G.graph["marking"] == "OFFICIAL"


def test_a_subgraph_export_holds_the_given_subject_and_its_links(world, tmp_path):
    karim = next(e.id for e in select_for(world, "tom").entities.values() if e.caption == "Karim Al-Karimi")
    out = tmp_path / "karim.gexf"
    export_graph(world, "tom", out, "gexf", entity_ids=[karim])
    G = nx.read_gexf(out)
    assert G.number_of_nodes() == 2 and G.number_of_edges() == 1
    assert audit.show(world)[-1].entities == sorted(G.nodes)


def test_the_cli_exports_for_a_named_user_and_reports_withheld_counts_as_json(store_url, tmp_path):
    store = Store.open(store_url)
    try:
        build_world(store, tmp_path)
    finally:
        store.close()
    runner = CliRunner()
    out = tmp_path / "release.jsonl"
    result = runner.invoke(app, ["export", "ftm", "--as", "tom", "--out", str(out), "--for-agency", "FRPOL",
                                 "--purpose", "PAF request 42", "--db", store_url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["withheld_statements"] == 10 and summary["entities"] == 4 and summary["marking"] == "OFFICIAL"
    for kind, path in [("i2", tmp_path / "i2"), ("graphml", tmp_path / "g.graphml"),
                       ("gexf", tmp_path / "g.gexf"), ("report", tmp_path / "r.html")]:
        result = runner.invoke(app, ["export", kind, "--as", "amelie", "--out", str(path), "--db", store_url])
        assert result.exit_code == 0, result.output
        assert "marked OFFICIAL" in result.stdout
    denied = runner.invoke(app, ["export", "report", "--as", "nobody", "--out", str(tmp_path / "x.html"),
                                 "--db", store_url, "--json"])
    assert denied.exit_code == 5 and not (tmp_path / "x.html").exists()
