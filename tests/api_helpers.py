"""A small shared world for API tests: agencies, analysts with tokens, and three agencies' files ingested."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TESSERA_ARGON2_TIME_COST", "1")
os.environ.setdefault("TESSERA_ARGON2_MEMORY_KIB", "1024")

from tessera.access import identity  # noqa: E402
from tessera.intake.pipeline import BatchMarking, ingest_file  # noqa: E402
from tessera.store.store import Store  # noqa: E402
from intake_helpers import HEADER_LINE, mapping_file, write  # noqa: E402

UKPOL_ROWS = ("N1,Mohammed Al-Karimi,04/03/1985,07700 900123,GB,1A\n"
              "N2,John Smith,01/01/1970,07700 900999,GB,2B\n")
FRPOL_ROWS = "F1,محمد الكريمي,04/03/1985,+33 6 12 34 56 78,FR,\n"
MI_ROWS = "M1,Viktor Petrenko,12/12/1980,07700 900555,UA,\n"


@dataclass
class World:
    store: Store
    tokens: dict[str, str]   # user name -> bearer token


def build_world(store: Store, tmp_path: Path) -> World:
    with store.engine.begin() as conn:
        identity.add_agency(conn, "UKPOL", "GB", contact="UK police intelligence desk")
        identity.add_agency(conn, "MI", "GB", contact="MI liaison officer, +44 20 7946 0000")
        identity.add_agency(conn, "FRPOL", "FR", contact="OCRIEST permanence")
        identity.add_agency(conn, "NCA", "GB", contact="NCA duty desk", hit_policy="silent")
        identity.add_user(conn, "alice", "UKPOL", "SECRET", "pw-alice")
        identity.add_user(conn, "amelie", "FRPOL", "SECRET", "pw-amelie")
        identity.add_user(conn, "olly", "UKPOL", "OFFICIAL", "pw-olly")
    mapping = mapping_file(tmp_path)
    files = {name: write(tmp_path / f"{name}.csv", HEADER_LINE + rows)
             for name, rows in (("ukpol", UKPOL_ROWS), ("frpol", FRPOL_ROWS), ("mi", MI_ROWS))}
    ingest_file(store, files["ukpol"], "UKPOL", mapping, BatchMarking.make("OFFICIAL-SENSITIVE"))
    ingest_file(store, files["frpol"], "FRPOL", mapping, BatchMarking.make("OFFICIAL", grading="2C"))
    ingest_file(store, files["mi"], "MI", mapping, BatchMarking.make("SECRET", caveat="UK EYES ONLY", grading="1B"))
    tokens = {}
    with store.engine.begin() as conn:
        for name in ("alice", "amelie", "olly"):
            tokens[name] = identity.create_token(conn, name).token
    return World(store, tokens)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
