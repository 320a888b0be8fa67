"""Who may see which statement: one policy, in a Python form and an equivalent SQL form.

The rules (deny wins: a statement is visible only if every rule admits the viewer)
--------------------------------------------------------------------------------

1. **Account.** A disabled user sees nothing.
2. **Clearance.** The viewer's clearance must rank at or above the statement's
   classification on the ladder OFFICIAL < OFFICIAL-SENSITIVE < SECRET < TOP-SECRET
   (``tessera/model/markings.yml``). This holds for the owning agency too: being the
   originator does not clear an OFFICIAL-cleared officer for TOP-SECRET material. A
   classification Tessera cannot read denies everyone (fail closed).
3. **National caveat.** A caveat Tessera knows (``caveat_admits`` returns a list, e.g.
   "UK EYES ONLY" -> [GB], "UK/FR EYES ONLY" -> [GB, FR], "FVEY") admits only viewers whose
   *nationality* it names -- also inside the owning agency, because an EYES ONLY caveat is
   about the person (a French officer seconded to a UK agency does not see UK EYES ONLY).
   A caveat Tessera does not recognise is a restriction it cannot interpret, so it admits
   only the owning agency (whose officers know what their own caveat means); everyone
   else is denied. An empty or blank caveat restricts no one.
4. **Release-to.** A non-empty release-to list (comma- or space-separated codes) admits only
   viewers whose agency code or agency country it names. The owning agency always sees
   its own statements, whatever the list says. Release-to is an institutional decision,
   so it is matched on the viewer's agency and its country, not on personal nationality.

5. **Handling.** A grading whose handling code keeps the value inside its agency (5x5x5
   handling 4 "within originating agency only" and 5 "refer to the originator"; the list is
   ``originator_only`` in ``tessera/model/grading.yml``) admits only the owning agency,
   whatever the release-to list says. Other handling codes (3x5x2 P and C, 5x5x5 1-3)
   govern onward use, not sight, and admit everyone the rules above admit.

Roles (analyst, supervisor, admin) do not widen what a user may see: an admin manages
accounts, not access to content.

The viewer's nationality defaults to the country of their agency.

Two forms, one policy
---------------------

``decide`` / ``may_see`` evaluate one statement in Python (for a record already in hand,
with reasons for a denial). ``visible_clause`` returns a SQLAlchemy boolean expression over
``tessera.store.tables.statements`` so that search and export filter in the database and
never fetch what the viewer may not see. The SQL form mirrors exactly how the model
module reads markings: classifications and caveats are matched case-insensitively with
runs of whitespace treated as one space (``normalise_classification``, ``caveat_admits``),
via ``regexp_match`` (PostgreSQL ``~``; on SQLite SQLAlchemy registers a Python ``REGEXP``).
An exact ``IN`` on the canonical spellings comes first so that the common case never
reaches the regular expression. ``tests/test_access_policy.py`` checks on random worlds
that both forms admit the same statements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, true

from tessera.model.markings import (Marking, MarkingError, _markings, caveat_admits, classification_rank,
                                    classifications, normalise_classification, originator_only,
                                    originator_only_pattern)
from tessera.store import tables

ROLES = ("analyst", "supervisor", "admin")


@dataclass(frozen=True)
class User:
    """A viewer: who they are, which agency they belong to and what they are cleared for."""

    id: int | None
    name: str
    agency: str
    country: str
    clearance: str
    nationality: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    disabled: bool = False

    @property
    def citizenship(self) -> str:
        """Nationality for caveats: the user's own, else their agency's country ("UK" reads as GB)."""
        return country_code(self.nationality or self.country)


def country_code(text: str) -> str:
    """A country code upper-cased, with the UK spelled GB as the caveats spell it."""
    code = str(text).strip().upper()
    return "GB" if code == "UK" else code


@dataclass(frozen=True)
class Decision:
    """Whether a viewer may see a statement, and why not."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


def _blank(text: str | None) -> bool:
    return text is None or not str(text).strip()


def release_codes(release_to: str | list[str] | tuple[str, ...] | None) -> set[str]:
    """The codes of a release-to list, upper-cased ("gb, NCA" -> {"GB", "NCA"})."""
    if release_to is None:
        return set()
    if isinstance(release_to, str):
        release_to = re.split(r"[,\s]+", release_to)
    return {r.strip().upper() for r in release_to if r and r.strip()}


def release_names(user: User) -> set[str]:
    """The codes in a release-to list that admit this user: their agency and its country."""
    names = {user.agency.strip().upper(), country_code(user.country)}
    if "GB" in names:
        names.add("UK")
    return names


def _clearance_rank(user: User) -> int | None:
    try:
        return classification_rank(user.clearance)
    except MarkingError:
        return None


def decide(user: User, owner: str, classification: str | None, caveat: str | None = None,
           release_to: str | list[str] | tuple[str, ...] | None = None, grading: str | None = None) -> Decision:
    """Apply every rule to one statement owned by agency ``owner``; collect each denial."""
    reasons: list[str] = []
    if user.disabled:
        reasons.append("account disabled")
    clearance = _clearance_rank(user)
    try:
        rank = classification_rank(classification or "")
    except MarkingError:
        rank = None
    if rank is None:
        reasons.append(f"unreadable classification {classification!r}")
    elif clearance is None or clearance < rank:
        reasons.append(f"clearance {user.clearance} is below {normalise_classification(classification)}")
    own = owner == user.agency
    if not _blank(caveat):
        admitted = caveat_admits(caveat)
        if admitted is None:
            if not own:
                reasons.append(f"caveat {caveat!r} is not understood; only {owner} may see it")
        elif user.citizenship not in {a.upper() for a in admitted}:
            reasons.append(f"caveat {caveat!r} does not admit nationality {user.citizenship}")
    codes = release_codes(release_to)
    if codes and not own and not (release_names(user) & codes):
        reasons.append(f"released only to {', '.join(sorted(codes))}")
    if not own and originator_only(grading):
        reasons.append(f"handling code of {grading!r} keeps it within {owner}")
    return Decision(not reasons, tuple(reasons))


def may_see(user: User, marking: Marking, owner: str) -> bool:
    """Whether ``user`` may see a value with this marking, owned by agency ``owner``."""
    return decide(user, owner, marking.classification, marking.caveat, marking.release_to).allowed


def may_see_statement(user: User, row: Mapping[str, Any] | Any) -> bool:
    """Whether ``user`` may see a statement row (a mapping or a row with the statement columns, grading included)."""
    get = row.get if isinstance(row, Mapping) else (lambda k: getattr(row, k))
    return decide(user, get("agency"), get("classification"), get("caveat"), get("release_to"),
                  get("grading")).allowed


# --- the SQL form ---------------------------------------------------------------------------------

_WS = r"\s"


def _key_regex(keys: list[str]) -> str:
    """An anchored regex matching any of the keys after upper(), with flexible whitespace."""
    parts = [r"\s+".join(re.escape(token) for token in key.split(" ")) for key in keys]
    return r"^\s*(" + "|".join(parts) + r")\s*$"


def _spellings(canonical: set[str]) -> list[str]:
    """Every upper-case key that normalise_classification maps onto one of ``canonical``."""
    aliases = _markings()["aliases"]
    return sorted(canonical | {alias for alias, target in aliases.items() if target in canonical})


def _classification_clause(user: User) -> ColumnElement[bool]:
    clearance = _clearance_rank(user)
    if clearance is None:
        return false()
    allowed = {c for c in classifications() if classification_rank(c) <= clearance}
    column = tables.statements.c.classification
    return or_(column.in_(sorted(allowed)),
               func.upper(column).regexp_match(_key_regex(_spellings(allowed))))


def _caveat_clause(user: User) -> ColumnElement[bool]:
    column = tables.statements.c.caveat
    upper = func.upper(column)
    nation = user.citizenship
    known = {k: [a.upper() for a in v] for k, v in _markings()["caveats"].items()}
    admitting = sorted(k for k, v in known.items() if nation in v)
    blank = or_(column.is_(None), column == "", upper.regexp_match(r"^\s*$"))
    by_known = or_(column.in_(admitting), upper.regexp_match(_key_regex(admitting))) if admitting else false()
    # The generic "XX/YY EYES ONLY" form, naming this nationality ("UK" spells GB), for caveats
    # that are not listed by name (a listed caveat's own list takes precedence).
    names = [nation] + (["UK"] if nation == "GB" else [])
    code = "[A-Z]{2,3}"
    name_re = "(" + "|".join(re.escape(n) for n in names) + ")"
    pattern = rf"^\s*({code}/)*{name_re}(/{code})*\s+EYES\s+ONLY\s*$"
    by_pattern = and_(upper.regexp_match(pattern),
                      not_known(upper, list(known)))
    unknown_but_own = and_(tables.statements.c.agency == user.agency, _unknown(upper, list(known)))
    return or_(blank, by_known, by_pattern, unknown_but_own)


def not_known(upper: ColumnElement[str], known: list[str]) -> ColumnElement[bool]:
    return ~upper.regexp_match(_key_regex(known)) if known else true()


def _unknown(upper: ColumnElement[str], known: list[str]) -> ColumnElement[bool]:
    """A caveat that is neither listed nor of the generic EYES ONLY form."""
    generic = r"^\s*[A-Z]{2,3}(/[A-Z]{2,3})*\s+EYES\s+ONLY\s*$"
    return and_(not_known(upper, known), ~upper.regexp_match(generic))


def _release_clause(user: User) -> ColumnElement[bool]:
    column = tables.statements.c.release_to
    upper = func.upper(column)
    empty = or_(column.is_(None), ~column.regexp_match(r"[^,\s]"))
    names = sorted(release_names(user))
    named = upper.regexp_match(r"(^|[,\s])(" + "|".join(re.escape(n) for n in names) + r")([,\s]|$)")
    return or_(empty, tables.statements.c.agency == user.agency, named)


def _handling_clause(user: User) -> ColumnElement[bool]:
    pattern = originator_only_pattern()
    column = tables.statements.c.grading
    if pattern is None:
        return true()
    return or_(column.is_(None), tables.statements.c.agency == user.agency, ~func.upper(column).regexp_match(pattern))


def visible_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``tables.statements`` admitting exactly what ``may_see_statement`` admits."""
    if user.disabled:
        return false()
    return and_(_classification_clause(user), _caveat_clause(user), _release_clause(user), _handling_clause(user))
