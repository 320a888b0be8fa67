"""Entity resolution on hand-made records: namesakes stay apart, transliterations and shared keys join."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select

from intake_helpers import PERSON_MAPPING, mapping_file, write
from tessera.intake.pipeline import ingest_file
from tessera.resolve.engine import assign_canonical, new_canonical_id, resolve
from tessera.store import tables


def canon(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.entities.c.id, tables.entities.c.canonical_id)).all())


def ftm(store, tmp_path, agency, entities):
    stream = write(tmp_path / f"{agency.lower()}.ftm.jsonl", "\n".join(json.dumps(e, ensure_ascii=False)
                                                                      for e in entities) + "\n")
    ingest_file(store, stream, agency, None)


def nominals(store, tmp_path, agency, rows):
    csv_file = write(tmp_path / f"{agency.lower()}.csv", "ref,name,dob,phone,nationality,grade\n" + rows)
    ingest_file(store, csv_file, agency, mapping_file(tmp_path, PERSON_MAPPING))


def test_two_men_called_mohammed_ahmed_with_different_birth_dates_stay_apart(store, tmp_path):
    nominals(store, tmp_path, "UKPOL", "U1,Mohammed Ahmed,03/04/1985,,Sudan,\nU2,Mohammed Ahmed,17/11/1992,,Sudan,\n")
    nominals(store, tmp_path, "BF", "B1,AHMED Muhammad,03/04/1985,,Sudan,\n")
    resolve(store)
    s = tables.statements
    with store.engine.connect() as conn:
        born = dict(conn.execute(select(s.c.entity_id, s.c.value).where(s.c.prop == "birthDate")).all())
    ids = canon(store)
    by_dob: dict[str, set[str]] = {}
    for entity_id, dob in born.items():
        by_dob.setdefault(dob, set()).add(ids[entity_id])
    assert len(born) == 3
    assert len(by_dob["1985-04-03"]) == 1  # UKPOL's and Border Force's 1985 man are one person
    assert by_dob["1985-04-03"].isdisjoint(by_dob["1992-11-17"])


def test_the_same_man_in_arabic_script_and_latin_letters_is_one_person(store, tmp_path):
    ftm(store, tmp_path, "MI", [
        {"id": "s1", "schema": "Person", "properties": {"name": ["محمد أحمد"], "birthDate": ["1985-04-03"],
                                                         "nationality": ["sd"]}}])
    ftm(store, tmp_path, "UKPOL", [
        {"id": "n1", "schema": "Person", "properties": {"name": ["Mohammed Ahmed"], "birthDate": ["1985-04-03"],
                                                         "nationality": ["sd"]}},
        {"id": "n2", "schema": "Person", "properties": {"name": ["Mohammed Ahmed"], "birthDate": ["1971-09-20"],
                                                         "nationality": ["sd"]}}])
    resolve(store)
    ids = canon(store)
    assert ids["mi.s1"] == ids["ukpol.n1"] and ids["mi.s1"].startswith("c-")
    assert ids["ukpol.n2"] != ids["ukpol.n1"]


def test_different_passport_numbers_refuse_a_merge_even_with_the_same_name_and_birth_date(store, tmp_path):
    ftm(store, tmp_path, "NCA", [
        {"id": "a", "schema": "Person", "properties": {"name": ["Hevar Ahmed"], "birthDate": ["1990-05-01"],
                                                        "passportNumber": ["P1234567"]}},
        {"id": "b", "schema": "Person", "properties": {"name": ["Hevar Ahmed"], "birthDate": ["1990-05-01"],
                                                        "passportNumber": ["P7654321"]}},
        {"id": "c", "schema": "Person", "properties": {"name": ["Hevar AHMED"], "birthDate": ["1990-05-01"]}}])
    result = resolve(store)
    ids = canon(store)
    assert ids["nca.a"] != ids["nca.b"]
    # the record without a passport joins one of them, never both (no chain through it)
    assert ids["nca.c"] in (ids["nca.a"], ids["nca.b"])
    assert result.merges_refused >= 1


def test_a_shared_registration_number_joins_vehicles_across_agencies(store, tmp_path):
    ftm(store, tmp_path, "FRPOL", [{"id": "v", "schema": "Vehicle",
                                    "properties": {"registrationNumber": ["AB-123-CD"], "model": ["Renault Master"]}}])
    ftm(store, tmp_path, "EUROPOL", [{"id": "w", "schema": "Vehicle",
                                      "properties": {"registrationNumber": ["AB 123 CD"]}},
                                     {"id": "x", "schema": "Vehicle", "properties": {"registrationNumber": ["ZZ999ZZ"]}}])
    resolve(store)
    ids = canon(store)
    assert ids["frpol.v"] == ids["europol.w"] != ids["europol.x"]


def test_a_cluster_keeps_the_canonical_id_most_of_its_members_held():
    ids = ["a", "b", "c", "d"]
    previous = ["c-x", "c-x", "c", "c-y"]
    out = assign_canonical(ids, previous, [[0, 1, 2], [3]])
    assert out == ["c-x", "c-x", "c-x", "d"]
    # when a cluster splits, the bigger part keeps the id and the other gets a new one
    out = assign_canonical(ids, ["c-x"] * 4, [[0, 1, 2], [3]])
    assert out[:3] == ["c-x"] * 3 and out[3] == "d"
    out = assign_canonical(ids, ["c-a"] * 4, [[0, 1], [2, 3]])
    assert out[0] == out[1] == "c-a" and out[2] == out[3] == new_canonical_id("c")
    member = "9f0e" * 10  # a source id as FtM makes them: the new cluster's id must not carry it
    assert member not in new_canonical_id(member) and new_canonical_id(member).startswith("c-")


def _payments(payees: list[tuple[str, str, str]]) -> list[dict]:
    """One suspicious-activity payment per (record id, payee name, payee IBAN as written), undated: only the names
    and the accounts speak (a payment's date is when its parties were seen)."""
    out = []
    for k, (pid, name, iban) in enumerate(payees):
        out += [{"id": pid, "schema": "Person", "properties": {"name": [name]}},
                {"id": f"acct{k}", "schema": "BankAccount", "properties": {"iban": [iban]}},
                {"id": f"pay{k}", "schema": "Payment", "properties": {
                    "beneficiary": [pid], "beneficiaryAccount": [f"acct{k}"], "amount": ["950.00"]}}]
    return out


def test_payees_with_close_names_and_one_beneficiary_account_are_one_money_handler(store, tmp_path):
    ftm(store, tmp_path, "UKFIU", _payments([
        ("p1", "Dilshad Karim", "DE87 3958 1542 6488 1186 34"),
        ("p2", "Dilshad Kareem", "DE87395815426488118634"),
        ("p3", "Dilshad Kareem", "GB03MONZ71036156305719")]))  # the same name, someone else's account
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.p1"] == ids["ukfiu.p2"]  # names alone stay under the threshold; the account decides
    assert ids["ukfiu.p3"] not in (ids["ukfiu.p1"], ids["ukfiu.p2"])


def test_an_account_many_different_people_are_paid_into_is_a_hub_and_joins_no_one(store, tmp_path):
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import person_table

    others = ["Rebwar Qadir", "Hevar Ahmed", "Sirwan Aziz", "Nguyen Van Minh", "Arman Rahimi", "Tesfay Berhe",
              "Ilir Hoxha", "Baran Yilmaz", "Zana Mahmud", "Karwan Salih"]
    hub = "GB29 NWBK 6016 1331 9268 19"
    ftm(store, tmp_path, "UKFIU", _payments(
        [("p1", "Dilshad Karim", hub), ("p2", "Dilshad Kareem", hub)]
        + [(f"o{k}", name, hub) for k, name in enumerate(others)]))
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.p1"] != ids["ukfiu.p2"]
    assert len({ids[f"ukfiu.o{k}"] for k in range(len(others))}) == len(others)
    holders = person_table(store, load_model()).key_names[("account", hub.replace(" ", ""))]
    assert holders == len(others) + 1  # Dilshad Karim and Dilshad Kareem are one of them


def test_an_account_paid_into_under_many_spellings_of_one_name_has_one_holder_and_is_no_hub(store, tmp_path):
    from tessera.resolve import compare
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import person_table

    account = "DE05 2576 2826 2783 3359 14"
    spellings = ["Klodian Hoxha", "Klodjan Hoxhaj", "Klodian Hodja", "Klodian Hoxa", "Klodjan Hoxha", "Klodian Hoxha"]
    ftm(store, tmp_path, "UKFIU", _payments([(f"p{k}", name, account) for k, name in enumerate(spellings)]))
    model = load_model()
    table = person_table(store, model)
    assert len(set(table.name_phon[table.first_name].tolist())) >= 4  # as many phonetic names as a hostel...
    assert table.key_names[("account", "DE05257628262783335914")] == 1  # ...but one man's
    i, j = np.triu_indices(table.n, 1)
    levels = compare.compare(table, i, j)
    assert (levels["account"] == compare.LEVELS["account"].index("shared")).all()
    assert not compare.hub_adjustments(levels, model)["account"].any()


def test_two_reports_of_a_common_name_on_one_holder_s_account_join_and_the_namesakes_stay_apart(store, tmp_path):
    crowd = [(f"n{k}", "Mohammed Ahmed", f"GB{k:02d}NWBK6016133192{k:04d}") for k in range(40)]
    ftm(store, tmp_path, "UKFIU", _payments(crowd + [("p1", "Mohammed Ahmed", "DE87395815426488118634"),
                                                      ("p2", "Mohammed Ahmed", "DE87 3958 1542 6488 1186 34")]))
    resolve(store)
    ids = canon(store)
    assert ids["ukfiu.p1"] == ids["ukfiu.p2"]  # the name is common, but the account is one man's
    assert len({ids[f"ukfiu.n{k}"] for k in range(40)} | {ids["ukfiu.p1"]}) == 41


def test_records_without_a_usable_name_compare_as_missing_not_as_equal_names(store, tmp_path):
    from tessera.resolve import compare
    from tessera.resolve.engine import load_model
    from tessera.resolve.spark import person_table

    ftm(store, tmp_path, "UKPOL", [
        {"id": "a", "schema": "Person", "properties": {"birthDate": ["1990-02-03"], "phone": ["+447700900111"]}},
        {"id": "b", "schema": "Person", "properties": {"birthDate": ["1990-02-03"], "phone": ["+447700900111"]}},
        {"id": "c", "schema": "Person", "properties": {"name": ["Amir Haddad"], "birthDate": ["1990-02-03"]}}])
    table = person_table(store, load_model())
    assert [table.norm_id[table.first_name[r]] == compare.NO_NAME for r in range(3)] == [True, True, False]
    i, j = np.array([0, 0, 1]), np.array([1, 2, 2])
    assert compare.name_levels(table, i, j)["name"].tolist() == [compare.MISSING] * 3
