"""Watchlists: new records, merges, splits and network changes alert the watcher, never beyond what they may see."""

from __future__ import annotations

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from sqlalchemy import update

from alerts_helpers import build_world
from tessera.access.identity import NotFound
from tessera.alerts.feed import list_alerts
from tessera.alerts.pump import after_batch, pump_once
from tessera.alerts.watches import add_watch, check_all
from tessera.store import tables
from tessera.store.store import Store


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


def alerts_of(world, name: str, store=None) -> list[dict]:
    with (store or world.store).engine.connect() as conn:
        return list_alerts(conn, world.user(name))


def canonical(world, ids: list[str], cid: str) -> None:
    e = tables.entities
    with world.store.engine.begin() as conn:
        conn.execute(update(e).where(e.c.id.in_(ids)).values(canonical_id=cid))


def test_a_new_record_sharing_an_identifier_alerts_the_watcher_at_ingest(world):
    smith = world.entity("UKPOL", 2)
    add_watch(world.store, "alice", smith)
    batch = world.ingest("FRPOL", "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n")
    assert after_batch(world.store, batch)["alerts"] == 1
    [alert] = alerts_of(world, "alice")
    assert (alert["kind"], alert["subject"], alert["entities"]) == ("attached", smith, [world.entity("FRPOL")])
    assert alert["detail"] == {"by": "identifier", "batch": batch}
    assert alerts_of(world, "amelie") == []
    assert pump_once(world.store)["alerts"] == 0  # already announced: no second alert


def test_nobody_watches_what_they_may_not_see_and_nobody_is_alerted_of_it(world):
    smith = world.entity("UKPOL", 2)
    with pytest.raises(NotFound):
        add_watch(world.store, "olly", smith)            # OFFICIAL clearance, OFFICIAL-SENSITIVE record
    with pytest.raises(NotFound):
        add_watch(world.store, "amelie", world.entity("MI"))  # UK EYES ONLY
    add_watch(world.store, "alice", smith)
    batch = world.ingest("BF", "B1,J Smith,,07700 900999,GB,\n", "TOP SECRET")
    after_batch(world.store, batch)
    assert alerts_of(world, "alice") == []               # alice is SECRET: the TOP SECRET record stays unsaid


def test_merges_and_splits_from_resolution_alert_the_watcher(world):
    smith, okafor = world.entity("UKPOL", 2), world.entity("NCA")
    add_watch(world.store, "alice", smith)
    canonical(world, [smith, okafor], "c-1")
    check_all(world.store)
    [merged] = alerts_of(world, "alice")
    assert (merged["kind"], merged["entities"]) == ("merged", [okafor])
    canonical(world, [okafor], "c-2")
    check_all(world.store)
    split = alerts_of(world, "alice")[-1]
    assert (split["kind"], split["entities"], split["detail"]["now"]) == ("split", [okafor], ["c-2"])
    assert check_all(world.store) == []


def test_alerts_are_filtered_when_read_and_survive_a_restart(world, store_url):
    smith = world.entity("UKPOL", 2)
    add_watch(world.store, "alice", smith)
    after_batch(world.store, world.ingest("FRPOL", "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n"))
    after_batch(world.store, world.ingest("BF", "B1,J Smith,,07700 900999,GB,\n"))
    assert [a["entities"] for a in alerts_of(world, "alice")] == [[world.entity("FRPOL")], [world.entity("BF")]]
    world.store.close()
    reopened = Store.open(store_url)
    try:
        assert len(alerts_of(world, "alice", reopened)) == 2
        s = tables.statements
        with reopened.engine.begin() as conn:  # FRPOL re-marks its record: the alert now says nothing to alice
            conn.execute(update(s).where(s.c.agency == "FRPOL").values(caveat="FR EYES ONLY"))
        assert [a["entities"] for a in alerts_of(world, "alice", reopened)] == [[world.entity("BF")]]
    finally:
        reopened.close()


def test_a_network_watch_alerts_when_someone_joins_the_network(world):
    karimi = world.entity("UKPOL", 1)
    add_watch(world.store, "alice", karimi, kind="network")
    batch = world.ingest("FRPOL", "F4,Karim Haddad,09/09/1999,+44 7700 900123,FR,\n")
    pump_once(world.store)
    alerts = alerts_of(world, "alice")
    joined = world.entity("FRPOL")
    assert {a["kind"] for a in alerts} == {"attached", "network"}
    [network] = [a for a in alerts if a["kind"] == "network"]
    assert network["detail"] == {"joined": [joined], "left": []}
    assert batch > 0 and pump_once(world.store)["alerts"] == 0
