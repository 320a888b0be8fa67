"""Entity ids made from key columns are exactly FollowTheMoney's, whatever the key values hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.intake.mapping import key_function, parse_mapping

MAPPING = """
people:
  queries:
    - entities:
        one:
          schema: Person
          keys: [ref]
          key_literal: person
          properties:
            name: {column: name}
        two:
          schema: Person
          keys: [ref, other]
          properties:
            name: {column: name}
"""

VALUES = st.one_of(st.none(), st.sampled_from(["", " ", "R1", " R1 ", "r1", "Ahmed Karimi", "محمد", "a\tb"]),
                   st.text(max_size=12))


@settings(max_examples=400, deadline=None)
@given(ref=VALUES, other=VALUES)
def test_entity_ids_from_keys_are_followthemoneys(ref, other):
    record = {k: v for k, v in (("ref", ref), ("other", other), ("name", "X")) if v is not None}
    for entity in parse_mapping(MAPPING, "m.yml", key_prefix="UKPOL").queries[0].ftm.entities:
        try:
            expected = entity.compute_key(record)
        except UnicodeEncodeError:   # lone surrogates: FollowTheMoney cannot hash them either
            expected = UnicodeEncodeError
        try:
            got = key_function(entity)(record)
        except UnicodeEncodeError:
            got = UnicodeEncodeError
        assert got == expected


def test_an_empty_key_gives_no_id_and_order_of_keys_does_not_matter():
    entities = parse_mapping(MAPPING, "m.yml", key_prefix="UKPOL").queries[0].ftm.entities
    one, two = (key_function(e) for e in entities)
    assert one({"ref": "  "}) is None and one({}) is None
    assert two({"ref": "A", "other": "B"}) == two({"ref": "B", "other": "A"}) != one({"ref": "A"})
