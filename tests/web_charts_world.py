"""A synthetic world for the analysis pages' browser tests: a 2,000-entity fan, a chain to a supernode,
payments, crossings, interceptions and arrests with places, and the official small-boat series if present."""

from __future__ import annotations

import os
from pathlib import Path

from tessera.intake.pipeline import BatchMarking, ingest_file

SHARED = Path(os.environ.get("TESSERA_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
SMALL_BOATS = SHARED / "data" / "uk_small_boats" / "data_small_boats_time_series.ods"

HUBS, LEAVES = 40, 49          # centre + 40 hubs + 40 x 49 leaves = 2,001 entities two hops out
SUPER_LEAVES = 120             # the supernode at the end of the chain
LINKS_MAPPING = """
links:
  queries:
    - entities:
        a:
          schema: Person
          keys: [a_ref]
          key_literal: chart-person
          properties:
            name: {column: a_name}
        b:
          schema: Person
          keys: [b_ref]
          key_literal: chart-person
          properties:
            name: {column: b_name}
        link:
          schema: Associate
          keys: [link_id]
          key_literal: chart-link
          properties:
            person: {entity: a}
            associate: {entity: b}
            startDate: {column: date, format: "%Y-%m-%d"}
"""
PAYMENTS_MAPPING = """
payments:
  queries:
    - entities:
        payer:
          schema: Person
          keys: [payer_ref]
          key_literal: chart-person
          properties:
            name: {column: payer_name}
        beneficiary:
          schema: Person
          keys: [beneficiary_ref]
          key_literal: chart-person
          properties:
            name: {column: beneficiary_name}
        payment:
          schema: Payment
          keys: [payment_id]
          key_literal: chart-payment
          properties:
            payer: {entity: payer}
            beneficiary: {entity: beneficiary}
            amount: {column: amount}
            currency: {column: currency}
            date: {column: date, format: "%Y-%m-%d"}
"""
EVENTS_MAPPING = """
events:
  queries:
    - entities:
        person:
          schema: Person
          keys: [person_ref]
          key_literal: chart-person
          properties:
            name: {column: person_name}
        event:
          schema: Event
          keys: [event_id]
          key_literal: chart-event
          properties:
            name: {column: nature}
            date: {column: date, format: "%Y-%m-%d", required: true}
            address: {column: place}
            summary: {column: latlon}
            involved: {entity: person}
"""
# A chain Ada - Bo - Cy - Dee, Dee linked to the supernode Hub Zed; Cy's link to Dee is dated 2021, the rest 2024.
CHAIN = [("chain-a", "Ada Chainwright", "chain-b", "Bo Chainwright", "2024-02-01"),
         ("chain-b", "Bo Chainwright", "chain-c", "Cy Chainwright", "2024-03-01"),
         ("chain-c", "Cy Chainwright", "chain-d", "Dee Chainwright", "2021-05-01"),
         ("chain-d", "Dee Chainwright", "super", "Hub Zed", "2024-04-01")]
PAYMENTS = [("chain-a", "Ada Chainwright", "chain-b", "Bo Chainwright", "9500", "GBP", "2024-02-03"),
            ("chain-b", "Bo Chainwright", "chain-c", "Cy Chainwright", "4000", "GBP", "2024-02-10"),
            ("chain-b", "Bo Chainwright", "chain-d", "Dee Chainwright", "3500", "EUR", "2024-02-12")]
EVENTS = [("ev-1", "chain-a", "Ada Chainwright", "TENTATIVE DE TRAVERSEE", "2024-05-02", "Gravelines", "50.9870,2.1280"),
          ("ev-2", "chain-b", "Bo Chainwright", "INTERPELLATION AIDE AU SEJOUR IRREGULIER", "2024-06-11", "Calais",
           "50.9510,1.8580"),
          ("ev-3", "chain-a", "Ada Chainwright", "Small boat arrival", "2024-07-20", "Dover", ""),
          ("ev-4", "chain-c", "Cy Chainwright", "ARREST", "2023-01-15", "Folkestone", "")]


def _csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(header) + "\n")
        for r in rows:
            out.write(",".join(r) + "\n")
    return path


def link_rows():
    n = 0
    for h in range(HUBS):
        n += 1
        yield (f"l{n}", "centre", "Centre Fanmore", f"hub-{h}", f"Hub Fanmore {h}", "2024-01-01")
        for k in range(LEAVES):
            n += 1
            yield (f"l{n}", f"hub-{h}", f"Hub Fanmore {h}", f"leaf-{h}-{k}", f"Leaf Fanmore {h} {k}", "2024-01-01")
    for a, an, b, bn, d in CHAIN:
        n += 1
        yield (f"l{n}", a, an, b, bn, d)
    for k in range(SUPER_LEAVES):
        n += 1
        yield (f"l{n}", "super", "Hub Zed", f"zed-{k}", f"Zed Spoke {k:03d}", "2024-04-02")


def seed_charts(store, tmp: Path) -> None:
    """Ingest the chart world for UKPOL (OFFICIAL-SENSITIVE) into an existing store."""
    marking = BatchMarking.make("OFFICIAL-SENSITIVE", grading="1A")
    files = [
        (_csv(tmp / "chart_links.csv", ["link_id", "a_ref", "a_name", "b_ref", "b_name", "date"], link_rows()),
         LINKS_MAPPING),
        (_csv(tmp / "chart_payments.csv", ["payment_id", "payer_ref", "payer_name", "beneficiary_ref",
                                            "beneficiary_name", "amount", "currency", "date"],
              [(f"pay{i}",) + p for i, p in enumerate(PAYMENTS)]), PAYMENTS_MAPPING),
        (tmp / "chart_events.csv", EVENTS_MAPPING),
    ]
    with (tmp / "chart_events.csv").open("w", encoding="utf-8") as out:
        out.write("event_id;person_ref;person_name;nature;date;place;latlon\n")
        for e in EVENTS:
            out.write(";".join(e) + "\n")
    for i, (path, mapping) in enumerate(files):
        mapping_path = tmp / f"chart_mapping_{i}.yml"
        mapping_path.write_text(mapping, encoding="utf-8")
        ingest_file(store, path, "UKPOL", mapping_path, marking)
    if SMALL_BOATS.is_file():
        from tessera.situation.reader import read_series
        from tessera.situation.store import import_series

        import_series(store, read_series(SMALL_BOATS))
