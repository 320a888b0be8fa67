"""Every read and write leaves its audit entry: alerts, watches, webhooks, ingest jobs and situation over the API,
and ingest, blind submissions, resolution and watches from the command line; the chain still verifies."""

from __future__ import annotations

import json

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerts_helpers import build_world
from intake_helpers import HEADER_LINE, PERSON_MAPPING, write
from tessera.access import audit
from tessera.access.identity import create_token
from tessera.alerts.pump import after_batch
from tessera.api.app import create_app
from tessera.cli import app as cli
from tessera.situation.reader import read_series
from tessera.situation.store import import_series

JEAN = "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n"  # John Smith's phone (UKPOL)


@pytest.fixture
def world(store, tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_FEDERATION_KEY", "federation-key-for-tests-0123456789")
    return build_world(store, tmp_path)


def db_arg(store) -> str:
    return store.url if store.dialect == "postgresql" else str(store.engine.url.database)


def run(world, *args):
    result = CliRunner().invoke(cli, [*args, "--db", db_arg(world.store)])
    assert result.exit_code == 0, result.output
    return result


class Trail:
    """The audit entries written since the last look."""

    def __init__(self, store):
        self.store, self.seen = store, len(audit.show(store))

    def new(self) -> list[audit.Entry]:
        entries = audit.show(self.store)
        fresh, self.seen = entries[self.seen:], len(entries)
        return fresh

    def expect(self, user: str, action: str, entity: str | None = None) -> audit.Entry:
        fresh = self.new()
        found = [e for e in fresh if e.user == user and e.action == action and (entity is None or entity in e.entities)]
        assert found, f"no {action} entry by {user} naming {entity}: {[(e.user, e.action) for e in fresh]}"
        return found[-1]


def test_every_api_read_and_write_of_alerts_ingest_and_situation_is_audited(world, tmp_path):
    with world.store.engine.begin() as conn:
        alice = {"Authorization": f"Bearer {create_token(conn, 'alice').token}"}
    figures = write(tmp_path / "boats.csv", "full_date,migrants_arrived,boats_arrived\n"
                    "2025-01-01,10,1\n2025-01-02,20,2\n2025-01-03,0,0\n")
    import_series(world.store, read_series(figures))
    client = TestClient(create_app(store=world.store))
    trail = Trail(world.store)
    v1 = "/api/v1"

    watched = world.entity("UKPOL", 2)
    watch = client.post(f"{v1}/watches", json={"target": watched}, headers=alice).json()
    trail.expect("alice", "watch.add", watched)
    assert client.get(f"{v1}/watches", headers=alice).json()["total"] == 1
    trail.expect("alice", "watches.list", watched)

    after_batch(world.store, world.ingest("FRPOL", JEAN))  # an alert for alice
    [alert] = client.get(f"{v1}/alerts", headers=alice).json()["items"]
    trail.new()
    assert client.post(f"{v1}/alerts/{alert['id']}/ack", headers=alice).status_code == 200
    trail.expect("alice", "alert.ack", f"alert:{alert['id']}")
    assert client.post(f"{v1}/alerts/999999/ack", headers=alice).status_code == 404
    assert trail.expect("alice", "alert.ack", "alert:999999").purpose == "not found"
    assert client.delete(f"{v1}/watches/{watch['id']}", headers=alice).status_code == 204
    trail.expect("alice", "watch.remove", f"watch:{watch['id']}")

    hook = client.post(f"{v1}/webhooks", json={"url": "https://hooks.example/in?key=SECRET"}, headers=alice).json()
    entry = trail.expect("alice", "webhook.add", f"webhook:{hook['id']}")
    assert entry.query == "hooks.example" and "SECRET" not in json.dumps(entry.as_dict())
    client.get(f"{v1}/webhooks", headers=alice)
    trail.expect("alice", "webhooks.list", f"webhook:{hook['id']}")
    assert client.delete(f"{v1}/webhooks/{hook['id']}", headers=alice).status_code == 204
    trail.expect("alice", "webhook.remove", f"webhook:{hook['id']}")

    files = {"file": ("nominals.csv", (HEADER_LINE + "U1,Aram Tahir,02/02/1990,07700 900321,IQ,1A\n").encode(),
                      "text/csv")}
    job = client.post(f"{v1}/ingest", files=files, data=dict(agency="UKPOL", mapping=PERSON_MAPPING),
                      headers=alice).json()
    trail.expect("alice", "ingest.upload", f"job:{job['id']}")
    with client.stream("GET", f"{v1}/ingest/{job['id']}/events", headers=alice) as response:
        "".join(response.iter_text())
    trail.expect("alice", "ingest.events", f"job:{job['id']}")
    status = client.get(f"{v1}/ingest/{job['id']}", headers=alice).json()
    trail.expect("alice", "ingest.status", f"batch:{status['batch']}")
    assert client.get(f"{v1}/ingest/nope", headers=alice).status_code == 404
    assert trail.expect("alice", "ingest.status", "job:nope").purpose == "not found"

    for path, action in (("total", "situation.total"), ("compare", "situation.compare"),
                         ("ytd", "situation.ytd"), ("series?by=day", "situation.series"),
                         ("releases", "situation.releases")):
        assert client.get(f"{v1}/situation/{path}", headers=alice).status_code == 200
        trail.expect("alice", action)
    client.get(f"{v1}/situation/total", params={"from": "2025-01-02"}, headers=alice)
    assert trail.expect("alice", "situation.total").query == "from=2025-01-02"

    run(world, "audit", "verify")


def test_command_line_writes_are_audited_and_shown_by_user(world, tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "operator")
    trail = Trail(world.store)
    mapping = write(tmp_path / "cli-mapping.yml", PERSON_MAPPING)
    jean = write(tmp_path / "jean.csv", HEADER_LINE + JEAN)
    batch = json.loads(run(world, "ingest", str(jean), "--agency", "FRPOL", "--mapping", str(mapping),
                           "--json").stdout)[0]["batch_id"]
    assert trail.expect("cli:operator", "ingest", f"batch:{batch}").query == "jean.csv"

    raw = write(tmp_path / "raw.csv", "case_ref,mobile\nB1,07700 900999\n")
    hashed = tmp_path / "hashed.jsonl"
    run(world, "blind", "hash", str(raw), "--out", str(hashed), "--ref", "case_ref", "--phone", "mobile")
    submission = json.loads(run(world, "blind", "submit", str(hashed), "--agency", "BF", "--json").stdout)
    trail.expect("cli:operator", "blind.submit", f"submission:{submission['submission']}")

    run(world, "resolve", "--json")
    trail.expect("cli:operator", "resolve")

    target = world.entity("UKPOL", 2)
    watch = json.loads(run(world, "watch", "add", target, "--as", "alice", "--json").stdout)
    assert trail.expect("alice", "watch.add", target).query == "entity (via cli:operator)"
    run(world, "watch", "remove", str(watch["id"]), "--as", "alice")
    trail.expect("alice", "watch.remove", f"watch:{watch['id']}")

    shown = json.loads(run(world, "audit", "show", "--user", "alice", "--json").stdout)
    assert [e["action"] for e in shown] == ["watch.add", "watch.remove"]
    assert {e["user"] for e in shown} == {"alice"}
    operator = json.loads(run(world, "audit", "show", "--user", "cli:operator", "--json").stdout)
    assert [e["action"] for e in operator] == ["ingest", "blind.submit", "resolve"]
    assert json.loads(run(world, "audit", "show", "--user", "nobody", "--json").stdout) == []
    run(world, "audit", "verify")
