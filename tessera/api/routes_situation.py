"""Situation statistics: the Home Office small-boat series as totals, comparisons, series and year to date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from tessera.api.deps import PREFIX, LimitQuery, OffsetQuery, Problem, UserDep, page, record_audit, store_of
from tessera.situation.stats import Figures

router = APIRouter(prefix=f"{PREFIX}/situation", tags=["situation"])

FromQuery = Annotated[date | None, Query(alias="from", description="first day (default: first day held)")]
ToQuery = Annotated[date | None, Query(alias="to", description="last day (default: last day held)")]


def _figures(request: Request, user, action: str) -> Figures:
    """The figures held; the read is audited (under `action`, with the query string) before anything is shown."""
    record_audit(store_of(request), user, action, [], request.url.query or None)
    figures = Figures.from_store(store_of(request))
    if not figures.dates:
        raise Problem(404, "Not Found", "no small-boat figures are held; import the Home Office series first")
    return figures


EARLIEST, LATEST = date(1901, 1, 1), date(2199, 12, 31)  # comparisons step back a year; keep clear of date's ends


def _day(day: date | None, default: date) -> date:
    day = day or default
    if not EARLIEST <= day <= LATEST:
        raise Problem(422, "Unprocessable Content", f"dates must lie between {EARLIEST} and {LATEST}")
    return day


def _period(figures: Figures, start: date | None, end: date | None) -> tuple[date, date]:
    start, end = _day(start, figures.first), _day(end, figures.last)
    if end < start:
        raise Problem(422, "Unprocessable Content", "'to' is before 'from'")
    return start, end


@router.get("/total", summary="People and boats crossing in a period")
def total(request: Request, user: UserDep, start: FromQuery = None, end: ToQuery = None) -> dict:
    figures = _figures(request, user, "situation.total")
    return figures.total(*_period(figures, start, end))


@router.get("/compare", summary="A period against a year earlier, and its rank among the same period of every year")
def compare(request: Request, user: UserDep, start: FromQuery = None, end: ToQuery = None) -> dict:
    figures = _figures(request, user, "situation.compare")
    return figures.compare(*_period(figures, start, end))


@router.get("/ytd", summary="Year to date against the same days last year")
def year_to_date(request: Request, user: UserDep,
                 as_of: Annotated[date | None, Query(description="last day (default: last day held)")] = None) -> dict:
    figures = _figures(request, user, "situation.ytd")
    return figures.year_to_date(_day(as_of, figures.last))


@router.get("/series", summary="People and boats per day, week (ending Sunday), month or year; paginated")
def series(request: Request, user: UserDep, by: Literal["day", "week", "month", "year"] = "month",
           start: FromQuery = None, end: ToQuery = None, limit: LimitQuery = 1000, offset: OffsetQuery = 0) -> dict:
    figures = _figures(request, user, "situation.series")
    start, end = _period(figures, start, end)
    rows = figures.series(by, max(start, figures.first), min(end, figures.last))  # only days held
    return page(request, rows[offset:offset + limit], len(rows), limit, offset, by=by)


@router.get("/releases", summary="Releases of the series imported so far; paginated")
def releases(request: Request, user: UserDep, limit: LimitQuery = 100, offset: OffsetQuery = 0) -> dict:
    from tessera.situation.store import releases as list_releases
    record_audit(store_of(request), user, "situation.releases", [], request.url.query or None)
    rows = list_releases(store_of(request))
    return page(request, rows[offset:offset + limit], len(rows), limit, offset)
