"""A tiny two-agency world for export tests: the same kind of CSV ingested under different markings."""

from __future__ import annotations

import os

os.environ.setdefault("TESSERA_ARGON2_TIME_COST", "1")
os.environ.setdefault("TESSERA_ARGON2_MEMORY_KIB", "1024")

from tessera.access import identity  # noqa: E402
from tessera.intake.pipeline import BatchMarking, ingest_file  # noqa: E402

MAPPING = """
nominals:
  queries:
    - marking:
        grading_column: grade
      entities:
        person:
          schema: Person
          keys: [ref]
          key_literal: nominal
          properties:
            name: {column: name}
            phone: {column: phone}
            notes: {column: note}
        passport:
          schema: Passport
          keys: [passport]
          key_literal: passport
          properties:
            number: {column: passport}
            holder: {entity: person}
"""

HEADER = "ref,name,phone,note,passport,grade\n"
UK_ROWS = ("u1,Karim Al-Karimi,07700 900123,kingpin per MI source,P111111,1A\n"
           "u2,Dara Hosseini,07700 900456,hawala broker,P222222,2B\n")
FR_ROWS = ("f1,Jean Moreau,+33 6 12 34 56 78,=HYPERLINK(\"http://evil\"),F333333,1B\n"
           "f2,Luc Bernard,+33 6 98 76 54 32,driver,F444444,3C\n")

UK_MARKING = dict(classification="SECRET", caveat="UK EYES ONLY")
FR_MARKING = dict(classification="OFFICIAL", release_to="GB,FR")


def build_world(store, tmp_path) -> dict:
    """NCA (GB) holds two SECRET – UK EYES ONLY nominals; FRPOL (FR) two OFFICIAL ones released to GB/FR."""
    with store.engine.begin() as conn:
        identity.add_agency(conn, "NCA", "GB", "National Crime Agency")
        identity.add_agency(conn, "FRPOL", "FR", "Police aux frontières")
        identity.add_agency(conn, "BKA", "DE", "Bundeskriminalamt")
        identity.add_user(conn, "tom", "NCA", "SECRET", "pw-tom")
        identity.add_user(conn, "amelie", "FRPOL", "SECRET", "pw-amelie")
        identity.add_user(conn, "jo", "NCA", "OFFICIAL", "pw-jo")
    mapping = tmp_path / "nominals.mapping.yml"
    mapping.write_text(MAPPING)
    uk = tmp_path / "uk_nominals.csv"
    uk.write_text(HEADER + UK_ROWS)
    fr = tmp_path / "fr_nominals.csv"
    fr.write_text(HEADER + FR_ROWS)
    a = ingest_file(store, uk, "NCA", mapping, BatchMarking.make(**UK_MARKING))
    b = ingest_file(store, fr, "FRPOL", mapping, BatchMarking.make(**FR_MARKING))
    assert a.quarantined == 0 and b.quarantined == 0
    return dict(uk=a, fr=b)
