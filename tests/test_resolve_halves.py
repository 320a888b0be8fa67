"""The Person table built in two processes (a helper builds the later half) equals the one built in one, and a
run with a helper resolves as one without; small or in-memory stores never start one."""

from __future__ import annotations

import numpy as np
import pytest

from test_resolve_context import ingest
from tessera.resolve import halves
from tessera.resolve.engine import (entity_listing, load_model, person_statements, resolve, stored_person_table)
from tessera.store.store import Store

NATIONALITIES = ["GB", "IQ", "AF", "ER", "VN", "AL"]


def people(agency: str, count: int, offset: int = 0) -> list[dict]:
    """Synthetic people whose ids interleave between agencies, with nationalities first met in another order
    in each half (the helper's codes must be renumbered), some with no name and some sharing a phone."""
    out = []
    for k in range(offset, offset + count):
        props = {"birthDate": [f"19{60 + k % 40}-0{1 + k % 9}-1{k % 10}"],
                 "nationality": [NATIONALITIES[(k * 7 if k > 20 else k) % len(NATIONALITIES)]],
                 "phone": [f"+4477009{k % 15:05d}"], "passportNumber": [f"P{k:07d}"]}
        if k % 11:
            props["name"] = [f"Karim {['Ahmadi', 'Hosseini', 'Nguyen', 'Berhe'][k % 4]} {k % 6}"]
        out.append({"id": f"{'ab'[k % 2]}{k:03d}", "schema": "Person", "properties": props})
    return out


@pytest.fixture
def helped(monkeypatch):
    """Every file or server store starts a helper, however small."""
    monkeypatch.setattr(halves, "HELPER_FROM", 2)
    monkeypatch.setattr(halves, "STATEMENTS_PER_PERSON", 0)


def tables_equal(a, b) -> None:
    assert a.ids == b.ids
    for name in ("name_rec", "norm_id", "phon_id", "phon_count", "first_name", "year", "month", "day", "years_lo",
                 "years_hi", "nationality", "gender", "agency"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("name_norm", "name_phon", "name_skel"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    assert (a.phones, a.docs, a.tokens, a.accounts, a.addresses) == (b.phones, b.docs, b.tokens, b.accounts,
                                                                     b.addresses)
    assert a.labels == b.labels and a.key_names == b.key_names and a.phone_counts == b.phone_counts
    assert np.array_equal(a.agency_pairs, b.agency_pairs)


def payments(payers: list[str]) -> list[dict]:
    """A bank account per payer and a payment from it (the helper reads the account links of both halves)."""
    out = []
    for k, payer in enumerate(payers):
        out.append({"id": f"acc{k}", "schema": "BankAccount",
                    "properties": {"iban": [f"GB{k:02d}NWBK6016133192{k:04d}"]}})
        out.append({"id": f"pay{k}", "schema": "Payment", "properties": {
            "payer": [payer], "payerAccount": [f"acc{k}"], "amount": ["100"]}})
    return out


def test_a_table_built_with_a_helper_equals_the_one_built_alone(store, tmp_path, helped):
    ingest(store, tmp_path, "UKPOL", people("UKPOL", 40) + payments(["a000", "b001", "a036", "b037"]))
    ingest(store, tmp_path, "BF", people("BF", 30, offset=25))
    model = load_model()
    _ids, _previous, persons = entity_listing(store)
    alone = stored_person_table(store, model, persons)
    with halves.table_helper(store, model) as helper:
        assert helper is not None
        table = stored_person_table(store, model, persons, helper.statements_before_start(store), helper)
        assert persons[0] < helper.start <= persons[-1]
    tables_equal(table, alone)
    assert len(set(alone.labels["nationality"])) == len(NATIONALITIES)
    half = persons.index(min(p for p in persons if p >= helper.start))
    assert any(alone.accounts[:half]) and any(alone.accounts[half:])  # account links on both sides of the split


def test_a_run_with_a_helper_resolves_as_one_without(store, tmp_path, monkeypatch):
    ingest(store, tmp_path, "UKPOL", people("UKPOL", 40))
    ingest(store, tmp_path, "BF", people("BF", 30, offset=10))
    _res, alone = resolve(store, write=False, return_assignment=True)
    monkeypatch.setattr(halves, "HELPER_FROM", 2)
    monkeypatch.setattr(halves, "STATEMENTS_PER_PERSON", 0)
    started = []
    monkeypatch.setattr(halves.Helper, "result", lambda self, real=halves.Helper.result: started.append(1) or
                        real(self))
    res, helped = resolve(store, write=False, return_assignment=True)
    assert started and helped == alone and res.multi_clusters > 0


def test_records_that_came_after_the_listing_are_read_by_the_run_itself(store, tmp_path, helped):
    ingest(store, tmp_path, "UKPOL", people("UKPOL", 40))
    model = load_model()
    _ids, _previous, persons = entity_listing(store)
    with halves.table_helper(store, model) as helper:
        later = [p for p in persons if p >= helper.start]
        table = stored_person_table(store, model, persons[:-1], helper.statements_before_start(store), helper)
    assert table.ids == persons[:-1] and len(later) > 1  # the helper's half held one record more: read again
    tables_equal(table, stored_person_table(store, model, persons[:-1]))


def test_a_helper_that_dies_is_an_error_not_a_smaller_table(store, tmp_path, helped):
    ingest(store, tmp_path, "UKPOL", people("UKPOL", 20))
    model = load_model()
    _ids, _previous, persons = entity_listing(store)
    with halves.table_helper(store, model) as helper:
        helper.start  # noqa: B018 -- listed and split; now it dies before sending its half
        helper.process.kill()
        statements = person_statements(store, stop=helper.start)
        with pytest.raises(RuntimeError, match="helper process failed"):
            stored_person_table(store, model, persons, statements, helper)


def test_small_and_in_memory_stores_start_no_helper(tmp_path, monkeypatch):
    model = load_model()
    memory = Store.open("sqlite://")
    with halves.table_helper(memory, model) as helper:
        assert helper is None
    small = Store.open(f"sqlite:///{tmp_path / 'small.db'}")
    ingest(small, tmp_path, "UKPOL", people("UKPOL", 10))
    with halves.table_helper(small, model) as helper:
        assert helper is None  # far below HELPER_FROM
    monkeypatch.setattr(halves, "STATEMENTS_PER_PERSON", 0)
    with halves.table_helper(small, model) as helper:
        assert helper is not None and helper.start is None  # it counted too few people to share


def test_the_helper_builds_its_half_while_the_run_is_busy_elsewhere(tmp_path, helped):
    """Its messages are read as they come: the earlier half's account links (more than a pipe holds) must not
    keep it waiting until the run asks for them."""
    import time

    store = Store.open(f"sqlite:///{tmp_path / 'busy.db'}")
    crowd = people("UKPOL", 3000)
    ingest(store, tmp_path, "UKPOL", crowd + payments([p["id"] for p in crowd]))
    with halves.table_helper(store, load_model()) as helper:
        deadline = time.monotonic() + 60
        while helper.process.poll() is None and time.monotonic() < deadline:  # the run lists, joins, ...
            time.sleep(0.1)
        assert helper.process.poll() == 0  # done with its half before anyone asked for the account links
        assert len(helper.accounts()) == 1500 and len(helper.result()[0]) == 1500


def test_a_table_of_some_people_built_with_a_helper_equals_the_one_built_alone(store, tmp_path, helped):
    """The warm resolver's table holds resolved records only: the helper builds its whole half, and the records
    not wanted are left out as if never read."""
    ingest(store, tmp_path, "UKPOL", people("UKPOL", 40) + payments(["a000", "b001", "a036", "b037"]))
    ingest(store, tmp_path, "BF", people("BF", 30, offset=25))
    model = load_model()
    _ids, _previous, persons = entity_listing(store)
    wanted = [p for k, p in enumerate(persons) if k % 3 and k != len(persons) - 2]
    alone = stored_person_table(store, model, wanted)
    with halves.table_helper(store, model) as helper:
        table = stored_person_table(store, model, wanted, helper.statements_before_start(store), helper)
        assert wanted[0] < helper.start <= wanted[-1]
    tables_equal(table, alone)
    assert table.n == len(wanted) < len(persons) and any(not name for name in table.name_norm)
