"""A small world for deconfliction, blind-matching and alert tests: agencies of each hit policy, users, files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TESSERA_ARGON2_TIME_COST", "1")
os.environ.setdefault("TESSERA_ARGON2_MEMORY_KIB", "1024")

from sqlalchemy import select  # noqa: E402

from intake_helpers import HEADER_LINE, mapping_file, write  # noqa: E402
from tessera.access import identity  # noqa: E402
from tessera.access.policy import User  # noqa: E402
from tessera.alerts.tables import notices  # noqa: E402
from tessera.intake.pipeline import BatchMarking, ingest_file  # noqa: E402
from tessera.store import tables  # noqa: E402

# Synthetic people. UKPOL's Karimi and FRPOL's Arabic-script Karimi share a birth date; Petrenko's phone is
# held by UKPOL (as Smith's) and MI.
UKPOL_ROWS = ("N1,Mohammed Al-Karimi,04/03/1985,07700 900123,GB,1A\n"
              "N2,John Smith,01/01/1970,07700 900999,GB,2B\n")
MI_ROWS = "M1,Viktor Petrenko,12/12/1980,07700 900555,UA,\n"
NCA_ROWS = "C1,Lena Okafor,02/02/1992,07700 900777,GB,\n"

CONTACTS = {"UKPOL": "UK police intelligence desk", "MI": "MI liaison", "FRPOL": "OCRIEST permanence",
            "NCA": "NCA duty desk", "BF": "Border Force intelligence"}
POLICIES = {"UKPOL": "open", "MI": "silent", "FRPOL": "open", "NCA": "none", "BF": "open"}


@dataclass
class World:
    store: object
    tmp: Path
    mapping: Path
    batches: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def ingest(self, agency: str, rows: str, classification: str = "OFFICIAL", caveat: str | None = None) -> int:
        self.counter += 1
        path = write(self.tmp / f"{agency.lower()}-{self.counter}.csv", HEADER_LINE + rows)
        result = ingest_file(self.store, path, agency, self.mapping, BatchMarking.make(classification, caveat=caveat))
        self.batches[agency] = result.batch_id
        return result.batch_id

    def user(self, name: str) -> User:
        with self.store.engine.connect() as conn:
            return identity.get_user(conn, name)

    def entity(self, agency: str, record_no: int = 1) -> str:
        e = tables.entities
        with self.store.engine.connect() as conn:
            return conn.execute(select(e.c.id).where(e.c.agency == agency).where(e.c.record_no == record_no)
                                .order_by(e.c.batch_id.desc())).scalars().first()

    def notices(self, recipient: str | None = None) -> list[dict]:
        query = select(notices).order_by(notices.c.id)
        if recipient:
            query = query.where(notices.c.recipient == recipient)
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def build_world(store, tmp_path: Path, ingest: bool = True) -> World:
    with store.engine.begin() as conn:
        for code, policy in POLICIES.items():
            identity.add_agency(conn, code, "FR" if code == "FRPOL" else "GB", contact=CONTACTS[code],
                                hit_policy=policy)
        identity.add_user(conn, "alice", "UKPOL", "SECRET", "pw-alice")
        identity.add_user(conn, "olly", "UKPOL", "OFFICIAL", "pw-olly")
        identity.add_user(conn, "amelie", "FRPOL", "SECRET", "pw-amelie")
        identity.add_user(conn, "maud", "MI", "TOP SECRET", "pw-maud")
    world = World(store, tmp_path, mapping_file(tmp_path))
    if ingest:
        world.ingest("UKPOL", UKPOL_ROWS, "OFFICIAL-SENSITIVE")
        world.ingest("MI", MI_ROWS, "SECRET", caveat="UK EYES ONLY")
        world.ingest("NCA", NCA_ROWS)
    return world


def every_text_in_store(store) -> str:
    """Every value of every column of every table, as one text (to look for leaks)."""
    from tessera.store.schema import all_metadata

    parts = []
    with store.engine.connect() as conn:
        for table in all_metadata().sorted_tables:
            for row in conn.execute(select(table)):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def holds_value(text: str, value: str) -> bool:
    """Whether `value` stands in `text` as a value of its own, not as digits inside a hex hash."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None
