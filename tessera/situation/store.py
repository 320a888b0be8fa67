"""Store a release of the series (idempotent, newest release wins, revisions kept) and read figures back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import bindparam, func, insert, select, update

from tessera.situation.reader import Series
from tessera.situation.tables import (situation_daily, situation_releases, situation_revisions,
                                      situation_weekly)

DAILY_FIELDS = ("migrants", "boats", "uncontrolled", "notes")
WEEKLY_FIELDS = ("migrants", "boats", "uncontrolled", "prevented_migrants", "prevented_events", "notes")


@dataclass
class ImportResult:
    """What an import did: the release and how many days/weeks it added or revised."""

    release_id: int
    already_imported: bool
    days: int
    weeks: int
    added: int
    revised: int
    first_date: date
    data_through: date

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()}


def _data_through(series: Series) -> date:
    with_figures = [r["date"] for r in series.daily if r.get("migrants") is not None]
    return max(with_figures or [r["date"] for r in series.daily])


def _apply(conn, table, key, fields, rows, release_id, through, ranks, series_name) -> tuple[int, int]:
    """Bring `rows` into the current table where this release is at least as new; log revisions."""
    keycol = table.c[key]
    current = {r[0]: r for r in conn.execute(select(keycol, table.c.release_id, *[table.c[f] for f in fields]))}
    new_rank = (through, release_id)
    inserts, updates, revisions = [], [], []
    for row in rows:
        values = {f: row.get(f) for f in fields}
        old = current.get(row["date"])
        if old is None:
            inserts.append({key: row["date"], "release_id": release_id, **values})
        else:
            if ranks[old[1]] > new_rank:
                continue  # a newer release already holds this day
            if tuple(old[2:]) == tuple(values[f] for f in fields):
                continue
            updates.append({"k": row["date"], "release_id": release_id, **values})
        revisions.append({"release_id": release_id, "series": series_name, "date": row["date"], **values})
    if inserts:
        conn.execute(insert(table), inserts)
    if updates:
        stmt = (update(table).where(keycol == bindparam("k"))
                .values(release_id=bindparam("release_id"), **{f: bindparam(f) for f in fields}))
        conn.execute(stmt, updates)
    if revisions:
        conn.execute(insert(situation_revisions), revisions)
    return len(inserts), len(updates)


def import_series(store, series: Series) -> ImportResult:
    """Record one release; re-importing the same file (same sha256) changes nothing."""
    with store.engine.begin() as conn:
        existing = conn.execute(select(situation_releases).where(situation_releases.c.sha256 == series.sha256)).first()
        if existing is not None:
            return ImportResult(existing.id, True, existing.days, existing.weeks, 0, 0,
                                existing.first_date, existing.data_through)
        through = _data_through(series)
        first = min(r["date"] for r in series.daily)
        release_id = conn.execute(insert(situation_releases).values(
            file_name=series.file_name, sha256=series.sha256, source_kind=series.source_kind,
            imported_at=datetime.now(timezone.utc), first_date=first, data_through=through,
            days=len(series.daily), weeks=len(series.weekly)).returning(situation_releases.c.id)).scalar_one()
        ranks = {r.id: (r.data_through, r.id) for r in conn.execute(
            select(situation_releases.c.id, situation_releases.c.data_through))}
        added, revised = _apply(conn, situation_daily, "date", DAILY_FIELDS, series.daily, release_id, through,
                                ranks, "daily")
        weekly_rows = series.weekly
        if weekly_rows:
            wrows = [{**r} for r in weekly_rows]
            _apply(conn, situation_weekly, "week_ending", WEEKLY_FIELDS, wrows, release_id, through, ranks, "weekly")
        conn.execute(update(situation_releases).where(situation_releases.c.id == release_id)
                     .values(added=added, revised=revised))
        return ImportResult(release_id, False, len(series.daily), len(series.weekly), added, revised, first, through)


def daily_figures(store, start: date | None = None, end: date | None = None) -> list[tuple[date, int, int]]:
    """(date, migrants, boats) in force for each day between start and end inclusive; blanks count as 0."""
    t = situation_daily
    q = select(t.c.date, func.coalesce(t.c.migrants, 0), func.coalesce(t.c.boats, 0)).order_by(t.c.date)
    if start:
        q = q.where(t.c.date >= start)
    if end:
        q = q.where(t.c.date <= end)
    with store.engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(q)]


def weekly_figures(store) -> list[dict]:
    """Weekly figures in force (SB_02), with prevented crossings where published."""
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(situation_weekly).order_by(situation_weekly.c.week_ending))]


def coverage(store) -> tuple[date, date] | None:
    """First and last day held, or None when nothing has been imported."""
    with store.engine.connect() as conn:
        first, last = conn.execute(select(func.min(situation_daily.c.date), func.max(situation_daily.c.date))).one()
    return None if first is None else (first, last)


def releases(store) -> list[dict]:
    """Every release imported, oldest first."""
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(situation_releases).order_by(situation_releases.c.id))]


def revisions_of(store, day: date, series: str = "daily") -> list[dict]:
    """The history of one day's (or week's) figures, release by release."""
    r = situation_revisions
    with store.engine.connect() as conn:
        rows = conn.execute(select(r, situation_releases.c.file_name).join(situation_releases)
                            .where(r.c.series == series, r.c.date == day).order_by(r.c.release_id))
        return [dict(x._mapping) for x in rows]
