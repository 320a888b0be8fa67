"""Access policy: clearance, national caveats and release-to lists decide who sees a statement."""

from __future__ import annotations

import access_helpers  # noqa: F401  (cheap argon2)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from access_helpers import add_batch, add_statement
from tessera.access.policy import User, decide, may_see, may_see_statement, visible_clause
from tessera.model.markings import Marking
from tessera.store import tables

FR_ANALYST = User(1, "amelie", "DGPN", "FR", "SECRET", "FR", ("analyst",))
UK_ANALYST = User(2, "tom", "NCA", "GB", "SECRET", "GB", ("analyst",))
UK_JUNIOR = User(3, "jo", "NCA", "GB", "OFFICIAL", None, ("analyst",))
FR_SECONDEE_AT_NCA = User(4, "luc", "NCA", "GB", "TOP-SECRET", "FR", ("analyst",))
DE_ANALYST = User(5, "anna", "BKA", "DE", "TOP-SECRET", None, ("admin",))


def test_a_french_analyst_does_not_see_a_uk_eyes_only_passport_number():
    marking = Marking.make("SECRET", "UK EYES ONLY")
    assert not may_see(FR_ANALYST, marking, owner="NCA")
    assert may_see(UK_ANALYST, marking, owner="NCA")
    assert "does not admit nationality FR" in decide(FR_ANALYST, "NCA", "SECRET", "UK EYES ONLY").reasons[0]


def test_a_uk_fr_eyes_only_caveat_admits_both_nationalities_and_no_third():
    marking = Marking.make("OFFICIAL-SENSITIVE", "UK/FR EYES ONLY")
    assert may_see(FR_ANALYST, marking, "NCA") and may_see(UK_ANALYST, marking, "NCA")
    assert not may_see(DE_ANALYST, marking, "NCA")


def test_an_eyes_only_caveat_binds_a_secondee_inside_the_owning_agency():
    assert not may_see(FR_SECONDEE_AT_NCA, Marking.make("SECRET", "UK EYES ONLY"), "NCA")


def test_an_officer_cleared_only_for_official_does_not_see_secret_even_from_their_own_agency():
    assert not may_see(UK_JUNIOR, Marking.make("SECRET"), "NCA")
    assert may_see(UK_JUNIOR, Marking.make("OFFICIAL"), "NCA")
    assert not may_see(UK_ANALYST, Marking.make("TOP SECRET"), "NCA")
    assert may_see(UK_ANALYST, Marking.make("official sensitive"), "NCA")


def test_an_unknown_caveat_is_seen_only_by_the_owning_agency():
    marking = Marking.make("OFFICIAL", "NOFORN-ISH ORCON")
    assert may_see(UK_ANALYST, marking, "NCA")
    assert not may_see(FR_ANALYST, marking, "NCA")


def test_a_release_to_list_admits_named_agencies_and_countries_and_always_the_owner():
    marking = Marking.make("OFFICIAL", release_to="DGPN")
    assert may_see(FR_ANALYST, marking, "NCA")
    assert not may_see(DE_ANALYST, marking, "NCA")
    assert may_see(UK_ANALYST, marking, "NCA")  # the owner
    assert may_see(DE_ANALYST, Marking.make("OFFICIAL", release_to="FR, DE"), "NCA")  # by country
    assert not may_see(FR_ANALYST, Marking.make("OFFICIAL", release_to="BKA"), "NCA")


def test_deny_wins_when_one_rule_admits_and_another_refuses():
    marking = Marking.make("TOP-SECRET", release_to="DGPN")
    assert not may_see(FR_ANALYST, marking, "NCA")  # released to DGPN, but SECRET clearance only
    assert len(decide(FR_ANALYST, "NCA", "TOP-SECRET", "UK EYES ONLY", "BKA").reasons) == 3


def test_a_disabled_account_and_an_unreadable_classification_see_nothing():
    disabled = User(9, "old", "NCA", "GB", "TOP-SECRET", disabled=True)
    assert not may_see(disabled, Marking.make("OFFICIAL"), "NCA")
    assert not may_see_statement(UK_ANALYST, dict(agency="NCA", classification="RESTRICTED", caveat=None,
                                                  release_to=None))


def test_a_5x5x5_record_for_the_originating_agency_only_is_seen_by_no_other_agency():
    assert not decide(UK_ANALYST, "UKPOL", "OFFICIAL", grading="B24")  # handling 4: within UKPOL only
    assert not decide(UK_ANALYST, "UKPOL", "OFFICIAL", release_to="NCA", grading="c35")  # release-to cannot widen it
    ukpol = User(6, "pc", "UKPOL", "GB", "OFFICIAL", None, ("analyst",))
    assert decide(ukpol, "UKPOL", "OFFICIAL", grading="B24")
    for shareable in ("B21", "B23", "1AP", "1AC", "2B", None):  # onward-use conditions, not sight
        assert decide(UK_ANALYST, "UKPOL", "OFFICIAL", grading=shareable), shareable
    assert "keeps it within UKPOL" in decide(FR_ANALYST, "UKPOL", "OFFICIAL", grading="B24").reasons[0]


def test_the_database_applies_the_handling_rule_as_the_policy_does(store):
    with store.engine.begin() as connection:
        batch = add_batch(connection)
        kept = add_statement(connection, batch, "UKPOL", "OFFICIAL", value="kept", grading="B24")
        referred = add_statement(connection, batch, "UKPOL", "OFFICIAL", value="referred", grading="A15")
        shared = add_statement(connection, batch, "UKPOL", "OFFICIAL", value="shared", grading="B21")
        ungraded = add_statement(connection, batch, "UKPOL", "OFFICIAL", value="plain")
    ukpol = User(6, "pc", "UKPOL", "GB", "OFFICIAL", None, ("analyst",))
    with store.engine.connect() as connection:
        assert _visible_ids(connection, UK_ANALYST) == {shared, ungraded}
        assert _visible_ids(connection, ukpol) == {kept, referred, shared, ungraded}


def _visible_ids(connection, user):
    s = tables.statements
    return set(connection.execute(select(s.c.id).where(visible_clause(user))).scalars())


def test_search_in_the_database_hides_what_the_policy_hides(store):
    with store.engine.begin() as connection:
        batch = add_batch(connection)
        passport = add_statement(connection, batch, "NCA", "SECRET", "UK EYES ONLY", value="P1234567")
        shared = add_statement(connection, batch, "NCA", "OFFICIAL", None, "DGPN,BKA", value="+447700900123")
        top = add_statement(connection, batch, "NCA", "TOP-SECRET", value="x")
        odd = add_statement(connection, batch, "NCA", "official", "uk/fr  eyes only", "fr dgpn", value="y")
        own = add_statement(connection, batch, "DGPN", "SECRET", "SOMETHING ELSE", value="z")
    with store.engine.connect() as connection:
        assert _visible_ids(connection, FR_ANALYST) == {shared, odd, own}
        assert _visible_ids(connection, UK_ANALYST) == {passport, shared, odd}
        assert _visible_ids(connection, UK_JUNIOR) == {shared, odd}
        assert _visible_ids(connection, DE_ANALYST) == {shared, top}
        assert _visible_ids(connection, FR_SECONDEE_AT_NCA) == {shared, top, odd}
        rows = connection.execute(select(tables.statements)).mappings().all()
        for user in (FR_ANALYST, UK_ANALYST, UK_JUNIOR, DE_ANALYST, FR_SECONDEE_AT_NCA):
            assert _visible_ids(connection, user) == {r["id"] for r in rows if may_see_statement(user, r)}


# --- the SQL form agrees with the Python form on random worlds ---------------------------------------

AGENCIES = {"NCA": "GB", "UKBF": "GB", "DGPN": "FR", "BKA": "DE", "KMAR": "NL", "CBP": "US"}
NATIONS = ["GB", "UK", "FR", "DE", "NL", "US", "CA", "IT"]


def _case(draw, text):
    mode = draw(st.sampled_from(["keep", "lower", "title"]))
    return {"keep": text, "lower": text.lower(), "title": text.title()}[mode]


@st.composite
def spaced(draw, text):
    """The same words with other spacing and letter case, as agencies type them."""
    words = text.split(" ")
    gaps = [draw(st.sampled_from([" ", "  ", "\t", " \n"])) for _ in words[1:]]
    joined = words[0] + "".join(g + w for g, w in zip(gaps, words[1:]))
    pad = draw(st.sampled_from(["", " ", "  "]))
    return pad + _case(draw, joined) + draw(st.sampled_from(["", " "]))


classification_text = st.one_of(
    st.sampled_from(["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"]),
    st.sampled_from(["TOP SECRET", "OFFICIAL SENSITIVE", "O-S", "OS", "OFFICIAL", "SECRET"]).flatmap(spaced),
    st.sampled_from(["RESTRICTED", "", "SECRET-ISH", "TOPSECRET", "O S"]),
)
eyes_only = st.lists(st.sampled_from(["UK", "GB", "FR", "DE", "US", "GBR", "X", "CAN"]), min_size=1,
                     max_size=3).map(lambda codes: "/".join(codes) + " EYES ONLY")
caveat_text = st.one_of(
    st.none(), st.sampled_from(["", "  "]),
    st.sampled_from(["UK EYES ONLY", "UK/FR EYES ONLY", "UK/US EYES ONLY", "FVEY"]).flatmap(spaced),
    eyes_only.flatmap(spaced),
    st.sampled_from(["NOFORN", "SENSITIVE", "UK EYES", "EYES ONLY", "UK / FR EYES ONLY", "FVEY PLUS"]),
)
release_text = st.one_of(
    st.none(), st.just(""),
    st.lists(st.sampled_from(list(AGENCIES) + NATIONS + ["nca", "EU"]), max_size=3).flatmap(
        lambda codes: st.sampled_from([",", ", ", " ", " ,"]).map(lambda sep: sep.join(codes))),
)
grading_text = st.one_of(st.none(), st.sampled_from(["1A", "2BP", "3EC", "B24", "b25", " A15 ", "E21", "C3", "Z9"]))
statements = st.fixed_dictionaries(dict(agency=st.sampled_from(list(AGENCIES)), classification=classification_text,
                                        caveat=caveat_text, release_to=release_text, grading=grading_text))


@st.composite
def users(draw):
    agency = draw(st.sampled_from(list(AGENCIES)))
    return User(None, "u", agency, AGENCIES[agency],
                draw(st.sampled_from(["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET", "top secret"])),
                draw(st.one_of(st.none(), st.sampled_from(NATIONS))), ("analyst",), draw(st.booleans()))


@pytest.fixture
def world_db(store):
    """A store on each backend (SQLite, PostgreSQL) with one batch for the random statements."""
    with store.engine.begin() as connection:
        add_batch(connection)
    return store.engine


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=st.lists(statements, min_size=1, max_size=12), viewers=st.lists(users(), min_size=1, max_size=4))
def test_the_database_filter_and_the_python_policy_agree_on_random_worlds(world_db, world, viewers):
    with world_db.begin() as connection:
        connection.execute(delete(tables.statements))
        batch = connection.execute(select(tables.batches.c.id)).scalar_one()
        for s in world:
            add_statement(connection, batch, **s)
        rows = connection.execute(select(tables.statements)).mappings().all()
        for user in viewers:
            expected = {r["id"] for r in rows if may_see_statement(user, r)}
            assert _visible_ids(connection, user) == expected, (user, rows)
