"""Alerts over HTTP: watch CRUD, the SSE stream with Last-Event-ID resume, signed webhooks with retry, notices."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient

from alerts_helpers import build_world
from tessera.access.identity import create_token
from tessera.alerts import delivery
from tessera.alerts.pump import after_batch

JEAN = "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n"
BORDER = "B1,J Smith,,07700 900999,GB,\n"


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


@pytest.fixture
def api(world):
    with world.store.engine.begin() as conn:
        tokens = {name: create_token(conn, name).token for name in ("alice", "olly", "amelie")}
    client = TestClient(create_app_for(world))
    return client, {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}


def create_app_for(world):
    from tessera.api.app import create_app

    return create_app(store=world.store)


def events_of(text: str) -> list[dict]:
    """The `alert` events of an SSE body: id and parsed data."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if fields.get("event") == "alert":
            out.append(dict(id=int(fields["id"]), data=json.loads(fields["data"])))
    return out


def test_watches_are_made_listed_and_removed_over_http_and_only_on_what_one_may_see(world, api):
    client, headers = api
    smith = world.entity("UKPOL", 2)
    assert client.post("/api/v1/watches", json={"target": smith}, headers=headers["olly"]).status_code == 404
    made = client.post("/api/v1/watches", json={"target": smith, "label": "Smith"}, headers=headers["alice"])
    assert made.status_code == 201, made.text
    listed = client.get("/api/v1/watches", headers=headers["alice"]).json()["items"]
    assert [(w["id"], w["target"], w["label"]) for w in listed] == [(made.json()["id"], smith, "Smith")]
    assert client.get("/api/v1/watches", headers=headers["amelie"]).json()["items"] == []
    assert client.delete(f"/api/v1/watches/{made.json()['id']}", headers=headers["amelie"]).status_code == 404
    assert client.delete(f"/api/v1/watches/{made.json()['id']}", headers=headers["alice"]).status_code == 204
    assert client.get("/api/v1/watches", headers=headers["alice"]).json()["items"] == []


def test_the_stream_resumes_after_last_event_id_and_brings_alerts_as_they_come(world, api):
    client, headers = api
    client.post("/api/v1/watches", json={"target": world.entity("UKPOL", 2)}, headers=headers["alice"])
    after_batch(world.store, world.ingest("FRPOL", JEAN))
    after_batch(world.store, world.ingest("BF", BORDER))
    listed = client.get("/api/v1/alerts", headers=headers["alice"]).json()["items"]
    first, second = [a["id"] for a in listed]
    body = client.get("/api/v1/alerts/stream", params={"max_seconds": 0.3},
                      headers=headers["alice"] | {"Last-Event-ID": str(first)}).text
    assert [e["id"] for e in events_of(body)] == [second]
    assert events_of(body)[0]["data"]["entities"] == [world.entity("BF")]
    assert events_of(client.get("/api/v1/alerts/stream", params={"max_seconds": 0.3},
                                headers=headers["amelie"]).text) == []

    def later():
        time.sleep(0.3)
        after_batch(world.store, world.ingest("FRPOL", "F10,Jeanne Dupont,06/06/1976,+44 7700 900999,FR,\n"))

    thread = threading.Thread(target=later)
    thread.start()
    with client.stream("GET", "/api/v1/alerts/stream", params={"max_seconds": 2},
                       headers=headers["alice"] | {"Last-Event-ID": str(second)}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    thread.join()
    [live] = events_of(text)
    assert live["id"] > second and live["data"]["kind"] == "attached"


def test_alerts_are_acknowledged_by_their_owner_only(world, api):
    client, headers = api
    client.post("/api/v1/watches", json={"target": world.entity("UKPOL", 2)}, headers=headers["alice"])
    after_batch(world.store, world.ingest("FRPOL", JEAN))
    [alert] = client.get("/api/v1/alerts", headers=headers["alice"]).json()["items"]
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=headers["amelie"]).status_code == 404
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=headers["alice"]).status_code == 200
    assert client.get("/api/v1/alerts", params={"unacked": True}, headers=headers["alice"]).json()["items"] == []


def test_notices_over_http_show_the_agencys_own_ids_only_to_those_who_may_see_them(world, api):
    client, headers = api
    after_batch(world.store, world.ingest("FRPOL", JEAN))
    [hit] = client.get("/api/v1/notices", headers=headers["amelie"]).json()["items"]
    assert (hit["kind"], hit["counterpart"], hit["own_entity"]) == ("hit", "UKPOL", world.entity("FRPOL"))
    [seen] = client.get("/api/v1/notices", headers=headers["alice"]).json()["items"]
    assert (seen["kind"], seen["own_entity"]) == ("seen", world.entity("UKPOL", 2))
    [seen_by_olly] = client.get("/api/v1/notices", headers=headers["olly"]).json()["items"]
    assert seen_by_olly["own_entity"] is None and seen_by_olly["reference"] == seen["reference"]


class Receiver:
    """A local webhook receiver answering with the given status codes in turn (then 200)."""

    def __init__(self, codes: list[int]):
        self.codes, self.received = list(codes), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_are_signed_and_retried_with_backoff(world, api):
    client, headers = api
    receiver = Receiver([500])
    try:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=headers["alice"]).json()
        assert hook["secret"].startswith("whsec_")
        assert "secret" not in client.get("/api/v1/webhooks", headers=headers["alice"]).json()["items"][0]
        client.post("/api/v1/watches", json={"target": world.entity("UKPOL", 2)}, headers=headers["alice"])
        after_batch(world.store, world.ingest("FRPOL", JEAN))
        assert delivery.deliver_due(world.store)["retrying"] == 1
        with world.store.engine.connect() as conn:
            [row] = delivery.list_deliveries(conn)
        assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 500)
        assert row["next_attempt_at"] - row["last_attempt_at"] == timedelta(seconds=delivery.BASE_BACKOFF)
        assert delivery.deliver_due(world.store)["retrying"] == 0  # not due yet
        counts = delivery.deliver_due(world.store, now=row["next_attempt_at"] + timedelta(seconds=1))
        assert counts["delivered"] == 1
        with world.store.engine.connect() as conn:
            [row] = delivery.list_deliveries(conn)
        assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 2, 200)
        assert len(receiver.received) == 2
        sent, body = receiver.received[-1]
        assert delivery.verify(hook["secret"], sent["X-Tessera-Timestamp"], body, sent["X-Tessera-Signature"],
                               now=int(sent["X-Tessera-Timestamp"]))
        assert not delivery.verify("whsec_wrong", sent["X-Tessera-Timestamp"], body, sent["X-Tessera-Signature"],
                                   now=int(sent["X-Tessera-Timestamp"]))
        assert not delivery.verify(hook["secret"], sent["X-Tessera-Timestamp"], body + b" ",
                                   sent["X-Tessera-Signature"], now=int(sent["X-Tessera-Timestamp"]))
        payload = json.loads(body)
        assert payload["alert"]["entities"] == [world.entity("FRPOL")]
    finally:
        receiver.close()


def test_a_webhook_that_never_answers_fails_after_the_last_attempt(world, api, monkeypatch):
    client, headers = api
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 3)
    receiver = Receiver([503, 503, 503, 503])
    try:
        client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=headers["alice"])
        client.post("/api/v1/watches", json={"target": world.entity("UKPOL", 2)}, headers=headers["alice"])
        after_batch(world.store, world.ingest("FRPOL", JEAN))
        waits = []
        for _ in range(3):
            with world.store.engine.connect() as conn:
                [row] = delivery.list_deliveries(conn)
            delivery.deliver_due(world.store, now=row["next_attempt_at"])
            with world.store.engine.connect() as conn:
                [after] = delivery.list_deliveries(conn)
            if after["next_attempt_at"]:
                waits.append((after["next_attempt_at"] - after["last_attempt_at"]).total_seconds())
        assert waits == [delivery.BASE_BACKOFF, 2 * delivery.BASE_BACKOFF]
        assert (after["status"], after["attempts"], len(receiver.received)) == ("failed", 3, 3)
    finally:
        receiver.close()
