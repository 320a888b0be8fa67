"""Notices within a second of a batch landing: over the API upload, and from the pump while a webhook stalls."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import alerts_helpers  # noqa: F401  (cheap argon2 before anything hashes)
import pytest
from fastapi.testclient import TestClient

from alerts_helpers import build_world
from intake_helpers import HEADER_LINE, PERSON_MAPPING
from tessera.access.identity import create_token
from tessera.alerts import delivery
from tessera.alerts.pump import INTERVAL_ENV, Pump, after_batch
from tessera.alerts.watches import add_watch
from tessera.api.app import create_app

JEAN = "F9,Jean Dupont,05/05/1975,+44 7700 900999,FR,\n"  # John Smith's phone, held by UKPOL (open policy)
NOTICE_DEADLINE = 1.0


@pytest.fixture
def world(store, tmp_path):
    return build_world(store, tmp_path)


def bearer(world, name: str) -> dict:
    with world.store.engine.begin() as conn:
        return {"Authorization": f"Bearer {create_token(conn, name).token}"}


def test_an_api_upload_brings_its_notices_within_a_second_of_the_job_ending(world, monkeypatch):
    monkeypatch.setenv(INTERVAL_ENV, "0")  # no pump: the upload itself must issue the notices
    amelie = bearer(world, "amelie")
    with TestClient(create_app(store=world.store)) as client:
        files = {"file": ("jean.csv", (HEADER_LINE + JEAN).encode("utf-8"), "text/csv")}
        job = client.post("/api/v1/ingest", files=files, data=dict(agency="FRPOL", mapping=PERSON_MAPPING),
                          headers=amelie).json()
        while (status := client.get(f"/api/v1/ingest/{job['id']}", headers=amelie).json())["state"] in (
                "queued", "running"):
            time.sleep(0.02)
        ended = time.monotonic()
        assert status["state"] == "done", status
        notices = []
        while not notices and time.monotonic() - ended < NOTICE_DEADLINE:
            notices = client.get("/api/v1/notices", headers=amelie).json()["items"]
        latency = time.monotonic() - ended
    assert [(n["kind"], n["counterpart"]) for n in notices] == [("hit", "UKPOL")]
    assert latency < NOTICE_DEADLINE
    print(f"notice listed {latency * 1000:.0f} ms after the upload job ended")


class StallingReceiver:
    """A webhook receiver that answers only after `delay` seconds."""

    def __init__(self, delay: float):
        self.started = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.started += 1
                time.sleep(delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_stalling_webhook_does_not_hold_back_the_pumps_notices(world):
    receiver = StallingReceiver(delay=2.0)
    alice = world.user("alice")
    with world.store.engine.begin() as conn:
        delivery.add_webhook(conn, alice.name, receiver.url)
    add_watch(world.store, alice.name, world.entity("UKPOL", 2), "entity", 1, None)
    after_batch(world.store, world.ingest("FRPOL", JEAN))  # an alert for alice: its delivery will stall
    pump = Pump(world.store, interval=0.1).start()
    try:
        deadline = time.monotonic() + 2.0
        while receiver.started == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.started == 1, "the alert's delivery never began"
        landed = time.monotonic()
        world.ingest("BF", "B1,J Smith,,07700 900999,GB,\n")  # lands without the hook: only the pump sees it
        while not world.notices("BF") and time.monotonic() - landed < NOTICE_DEADLINE:
            time.sleep(0.02)
        latency = time.monotonic() - landed
    finally:
        pump.stop()
        receiver.close()
    assert world.notices("BF"), "the pump issued no notice while a webhook stalled"
    assert latency < NOTICE_DEADLINE

