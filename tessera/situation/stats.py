"""Totals, year-on-year comparisons, record periods and chart series over the daily small-boat figures."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from itertools import accumulate

FREQUENCIES = ("day", "week", "month", "year")


def shift_years(d: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def _per_boat(people: int, boats: int) -> float | None:
    return round(people / boats, 1) if boats else None


def _change(now: int, before: int) -> dict:
    return {"difference": now - before, "percent": round(100 * (now - before) / before, 1) if before else None}


class Figures:
    """The daily series in force, with prefix sums so any period totals in O(log n)."""

    def __init__(self, rows: list[tuple[date, int, int]]):
        rows = sorted(rows)
        self.dates = [r[0] for r in rows]
        self.people = [0, *accumulate(r[1] for r in rows)]
        self.boats = [0, *accumulate(r[2] for r in rows)]

    @classmethod
    def from_store(cls, store) -> Figures:
        from tessera.situation.store import daily_figures
        return cls(daily_figures(store))

    @property
    def first(self) -> date | None:
        return self.dates[0] if self.dates else None

    @property
    def last(self) -> date | None:
        return self.dates[-1] if self.dates else None

    def covers(self, start: date, end: date) -> bool:
        return bool(self.dates) and self.first <= start and end <= self.last

    def total(self, start: date, end: date) -> dict:
        """People and boats from start to end inclusive, with the average per boat."""
        i, j = bisect_left(self.dates, start), bisect_right(self.dates, end)
        people, boats = self.people[j] - self.people[i], self.boats[j] - self.boats[i]
        return {"from": start.isoformat(), "to": end.isoformat(), "people": people, "boats": boats,
                "per_boat": _per_boat(people, boats), "days_with_data": max(j - i, 0),
                "complete": self.covers(start, end)}

    def same_period_each_year(self, start: date, end: date) -> list[dict]:
        """The same period in every year the data fully covers, highest first, each with its rank."""
        if not self.dates:
            return []
        periods = []
        for offset in range(self.first.year - end.year - 1, self.last.year - start.year + 2):
            s, e = shift_years(start, offset), shift_years(end, offset)
            if self.covers(s, e):
                periods.append({"year": end.year + offset, **self.total(s, e)})
        periods.sort(key=lambda p: (-p["people"], p["year"]))
        for rank, p in enumerate(periods, 1):
            p["rank"] = rank
        return periods

    def compare(self, start: date, end: date) -> dict:
        """This period, the same period a year earlier, and its rank among the same period of other years."""
        now = self.total(start, end)
        before = self.total(shift_years(start, -1), shift_years(end, -1))
        years = self.same_period_each_year(start, end)
        up_to_then = [p for p in years if p["year"] <= end.year]
        rank_then = 1 + sum(1 for p in up_to_then if p["people"] > now["people"] and p["year"] != end.year)
        rank_all = 1 + sum(1 for p in years if p["people"] > now["people"] and p["year"] != end.year)
        return {
            "period": now,
            "year_earlier": before,
            "change": {"people": _change(now["people"], before["people"]),
                       "boats": _change(now["boats"], before["boats"])},
            "rank_at_the_time": rank_then, "of_years_at_the_time": len(up_to_then),
            "record_at_the_time": rank_then == 1 and len(up_to_then) > 1,
            "rank_all_years": rank_all, "of_years": len(years),
            "record": rank_all == 1 and len(years) > 1,
            "years": sorted(years, key=lambda p: p["year"]),
        }

    def year_to_date(self, as_of: date | None = None) -> dict:
        """1 January to `as_of` (default: last day held) against the same days a year earlier."""
        as_of = as_of or self.last
        return self.compare(date(as_of.year, 1, 1), as_of)

    def series(self, freq: str = "month", start: date | None = None, end: date | None = None) -> list[dict]:
        """Totals per day, week (ending Sunday, as the Home Office publishes), month or year."""
        if freq not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        if not self.dates:
            return []
        start, end = start or self.first, end or self.last
        out: list[dict] = []
        d = start
        while d <= end:
            if freq == "day":
                e = d
            elif freq == "week":
                e = d + timedelta(days=6 - d.weekday())
            elif freq == "month":
                e = (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            else:
                e = date(d.year, 12, 31)
            e = min(e, end)
            t = self.total(d, e)
            label = {"day": d.isoformat(), "week": e.isoformat(), "month": d.strftime("%Y-%m"),
                     "year": str(d.year)}[freq]
            out.append({"period": label, **t})
            d = e + timedelta(days=1)
        return out


def yearly_totals(figures: Figures) -> dict[int, int]:
    """People per calendar year."""
    return {int(p["period"]): p["people"] for p in figures.series("year")}
