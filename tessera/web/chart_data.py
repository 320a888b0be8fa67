"""What the analysis pages draw, read through the access layer: graph neighbourhoods, paths, events, flows."""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from datetime import date

from sqlalchemy import func, or_, select

from tessera.access.policy import User, visible_clause
from tessera.graph.index import LINK_TYPES, EdgeFilter, GraphIndex
from tessera.model.markings import Marking, highest
from tessera.store import tables

GRAPH_TTL = 30.0  # seconds a built graph is reused before the store is checked for change
LABEL_PROPS = ("name", "registrationNumber", "number", "iban", "title", "email", "phone")
_ARREST = re.compile(r"arrest|interpellation|garde\s+a\s+vue|garde à vue|detain", re.I)
_INTERCEPT = re.compile(r"intercept|tentative|attempt|prevented|empech", re.I)
_CROSSING = re.compile(r"boat|crossing|travers|arrival|embark|dinghy|launch", re.I)
# Where a named place is when an event gives no coordinates (coast of the Channel and ports of arrival).
PLACES = {
    "calais": (50.951, 1.858), "dunkerque": (51.034, 2.377), "dunkirk": (51.034, 2.377),
    "gravelines": (50.987, 2.128), "boulogne-sur-mer": (50.726, 1.613), "boulogne": (50.726, 1.613),
    "wimereux": (50.770, 1.611), "loon-plage": (51.000, 2.217), "grande-synthe": (51.014, 2.302),
    "coquelles": (50.929, 1.800), "marck": (50.949, 1.950), "sangatte": (50.945, 1.751),
    "wissant": (50.885, 1.662), "hardelot": (50.634, 1.580), "equihen-plage": (50.678, 1.572),
    "le portel": (50.706, 1.573), "berck": (50.408, 1.592), "dover": (51.127, 1.313),
    "folkestone": (51.081, 1.166), "ramsgate": (51.335, 1.419), "london": (51.507, -0.128),
}
COUNTRY_DEFAULT = {"GB": ("Dover", 51.127, 1.313)}  # small-boat arrivals are landed at Dover


class GraphCache:
    """One GraphIndex of the store per app, rebuilt when statements or resolution changed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.key = None
        self.checked = 0.0
        self.ix: GraphIndex | None = None
        self.visible: dict[str, object] = {}
        self.networks: dict[tuple, list] = {}

    def _store_key(self, store) -> tuple:
        s, e = tables.statements, tables.entities
        with store.engine.connect() as conn:
            top = conn.execute(select(func.max(s.c.id), func.count(s.c.id))).one()
            canon = conn.execute(select(func.count(e.c.canonical_id), func.max(e.c.canonical_id))).one()
        return tuple(top) + tuple(canon)

    def graph(self, store) -> GraphIndex:
        from tessera.graph.build import build

        with self.lock:
            now = time.monotonic()
            if self.ix is not None and now - self.checked < GRAPH_TTL:
                return self.ix
            key = self._store_key(store)
            if self.ix is None or key != self.key:
                self.ix, self.key = build(store), key
                self.visible.clear()
                self.networks.clear()
            self.checked = now
            return self.ix

    def visibility(self, store, ix: GraphIndex, user: User):
        """The statement predicate of one user over this graph (cached with the graph)."""
        from tessera.graph.build import all_statements, statement_visibility

        cache_key = f"{user.name}\x00{user.agency}\x00{user.clearance}"
        with self.lock:
            found = self.visible.get(cache_key)
        if found is None:
            found = statement_visibility(store, user, all_statements(ix))
            with self.lock:
                self.visible[cache_key] = found
        return found


def cache_of(app) -> GraphCache:
    cache = getattr(app.state, "chart_graph", None)
    if cache is None:
        cache = app.state.chart_graph = GraphCache()
    return cache


def edge_filter(visible, types: list[str] | None = None, start: str | None = None,
                end: str | None = None) -> EdgeFilter:
    """The filter of a chart request: the viewer's visibility, link types and a time window."""
    bad = [t for t in types or [] if t not in LINK_TYPES]
    if bad:
        raise ValueError(f"unknown link type {bad[0]!r}; known: {', '.join(LINK_TYPES)}")
    return EdgeFilter(types=frozenset(types) if types else None, start=start or None, end=end or None,
                      visible=visible)


def as_json(mark: Marking) -> dict:
    """A marking as the pages' banner takes it."""
    return {"classification": mark.classification, "caveat": mark.caveat}


def higher(a: dict, b: dict) -> dict:
    """The marking covering two markings given as JSON."""
    return as_json(highest([Marking.make(a["classification"], a.get("caveat")),
                            Marking.make(b["classification"], b.get("caveat"))]))


def _canon():
    e = tables.entities
    return func.coalesce(e.c.canonical_id, e.c.id)


def describe(conn, user: User, ids: list[str]) -> tuple[dict[str, dict], Marking]:
    """Caption and schema of each entity from the values the viewer may see, and the highest marking used."""
    s, e = tables.statements, tables.entities
    canon = _canon().label("canon")
    found: dict[str, dict] = {}
    marks: set[tuple] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        q = (select(canon, s.c.schema, s.c.prop, s.c.value, s.c.classification, s.c.caveat)
             .select_from(s.join(e, e.c.id == s.c.entity_id))
             .where(or_(e.c.canonical_id.in_(chunk), e.c.id.in_(chunk)))
             .where(s.c.prop.in_(LABEL_PROPS)).where(visible_clause(user)).order_by(s.c.id))
        for r in conn.execute(q):
            d = found.setdefault(r.canon, {"label": None, "rank": 99, "schema": r.schema})
            rank = LABEL_PROPS.index(r.prop)
            if rank < d["rank"]:
                d.update(label=r.value, rank=rank, schema=r.schema)
            marks.add((r.classification, r.caveat))
    out = {}
    for i in ids:
        d = found.get(i)
        out[i] = {"label": d["label"] if d else None, "schema": d["schema"] if d else None}
    return out, highest([Marking.make(c, v) for c, v in marks])


def _node_json(n, info: dict) -> dict:
    d = {"id": n.id, "hops": n.hops, "degree": n.degree, "label": info.get("label") or n.id[:12],
         "schema": info.get("schema")}
    if n.summary is not None:
        d["summary"] = n.summary
    return d


def neighbourhood(conn, user, ix: GraphIndex, entity: str, hops: int, flt: EdgeFilter, supernode: int) -> dict:
    from tessera.graph.queries import neighbourhood as hood

    nb = hood(ix, entity, hops, flt, supernode=supernode)
    nodes = nb.nodes
    info, mark = describe(conn, user, [n.id for n in nodes])
    if not nb.edges and info[entity]["label"] is None:
        return None  # nothing of it the viewer may see: as if it did not exist
    return {"centre": entity, "nodes": [_node_json(n, info[n.id]) for n in nodes],
            "edges": [{"a": e.a, "b": e.b, "strength": e.strength, "types": e.types} for e in nb.edges],
            "supernode": supernode, "marking": as_json(mark)}


def _degree(ix: GraphIndex, entity: str, flt: EdgeFilter) -> int:
    """An entity's neighbours through links that pass the filter (links the viewer may not see do not count)."""
    u = ix.node(entity)
    return sum(1 for w in ix.neighbours(u) if ix.pair_ok(u, w, flt))


def expand_page(conn, user, ix: GraphIndex, entity: str, page: int, page_size: int, flt: EdgeFilter) -> dict:
    from tessera.graph.queries import expand

    p = expand(ix, entity, page, page_size, flt)
    ids = [it.b for it in p.items]
    info, mark = describe(conn, user, ids + [entity])
    nodes = [{"id": i, "label": info[i]["label"] or i[:12], "schema": info[i]["schema"],
              "degree": _degree(ix, i, flt)} for i in ids]
    return {"entity": entity, "page": p.page, "page_size": p.page_size, "total": p.total, "pages": p.pages,
            "nodes": nodes, "edges": [{"a": it.a, "b": it.b, "strength": it.strength, "types": it.types}
                                      for it in p.items], "marking": as_json(mark)}


def path(conn, user, ix: GraphIndex, a: str, b: str, flt: EdgeFilter) -> dict | None:
    from tessera.graph.queries import shortest_path

    p = shortest_path(ix, a, b, flt)
    if p is None:
        return None
    info, mark = describe(conn, user, p.nodes)
    return {"nodes": [{"id": i, "label": info[i]["label"] or i[:12], "schema": info[i]["schema"]} for i in p.nodes],
            "length": p.length, "marking": as_json(mark)}


def networks(cache: GraphCache, conn, user, ix: GraphIndex, flt: EdgeFilter, top: int, players: int) -> dict:
    from tessera.graph.queries import communities, key_players

    key = (f"{user.name}\x00{user.clearance}", flt.types, flt.start, flt.end)
    with cache.lock:
        found = cache.networks.get(key)
    if found is None:
        found = communities(ix, flt)
        with cache.lock:
            cache.networks[key] = found
    out, ids = [], set()
    for c in found[:top]:
        kp = key_players(ix, c.members, players, flt)
        ids.update(p.id for p in kp)
        out.append({"id": c.id, "size": c.size, "members": c.members,
                    "key_players": [{"id": p.id, "pagerank": p.pagerank, "betweenness": p.betweenness,
                                     "degree": p.degree} for p in kp]})
    info, mark = describe(conn, user, sorted(ids))
    for n in out:
        for p in n["key_players"]:
            p.update(label=info[p["id"]]["label"] or p["id"][:12], schema=info[p["id"]]["schema"])
    return {"networks": out, "total": len(found), "marking": as_json(mark)}


def network_members(cache: GraphCache, user, ix: GraphIndex, flt: EdgeFilter, network: int) -> list[str] | None:
    from tessera.graph.queries import communities

    key = (f"{user.name}\x00{user.clearance}", flt.types, flt.start, flt.end)
    with cache.lock:
        found = cache.networks.get(key)
    if found is None:
        found = communities(ix, flt)
        with cache.lock:
            cache.networks[key] = found
    return found[network].members if 0 <= network < len(found) else None


def money(conn, user, ix: GraphIndex, flt: EdgeFilter, entity: str | None = None, members: list[str] | None = None,
          direction: str = "downstream", hops: int = 3) -> dict:
    from tessera.graph.queries import follow_money, money_flows, totals

    flows = follow_money(ix, entity, direction, hops, flt) if entity else money_flows(ix, members, flt)
    ids = sorted({f.source for f in flows} | {f.target for f in flows} | ({entity} if entity else set()))
    info, mark = describe(conn, user, ids)
    return {"flows": [{"source": f.source, "target": f.target, "currency": f.currency, "amount": f.amount,
                       "count": f.count, "first": _iso(f.first), "last": _iso(f.last), "hop": f.hop}
                      for f in flows],
            "entities": {i: {"label": info[i]["label"] or i[:12], "schema": info[i]["schema"]} for i in ids},
            "totals": totals(flows), "marking": as_json(mark)}


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def link_timeline(conn, user, ix: GraphIndex, flt: EdgeFilter, ids: list[str]) -> dict:
    """Link records of the entities (inside the group when several), ordered by first date."""
    from tessera.graph.queries import timeline

    inside = set(ids)
    items = []
    for i in ids:
        for ev in timeline(ix, i, flt):
            if len(ids) > 1 and (ev.other not in inside or ev.other < i):
                continue
            items.append({"entity": i, "other": ev.other, "type": ev.type, "first": _iso(ev.first),
                          "last": _iso(ev.last), "count": ev.link.count, "amount": ev.link.amount,
                          "currency": ev.link.currency, "grading": ev.link.grading})
    items.sort(key=lambda x: (x["first"] or "9999", x["last"] or "9999", x["type"], x["entity"], x["other"]))
    named = sorted({x["entity"] for x in items} | {x["other"] for x in items} | inside)
    info, mark = describe(conn, user, named)
    return {"items": items, "entities": {i: {"label": info[i]["label"] or i[:12], "schema": info[i]["schema"]}
                                         for i in named}, "marking": as_json(mark)}


def event_kind(text: str) -> str:
    """arrest, interception, crossing or other, from an event's name."""
    if _ARREST.search(text):
        return "arrest"
    if _INTERCEPT.search(text):
        return "interception"
    if _CROSSING.search(text):
        return "crossing"
    return "other"


def _coords(summary: str | None) -> tuple[float, float] | None:
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*[,;]\s*(-?\d+(?:\.\d+)?)\s*", summary or "")
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def events(conn, user: User, involving: set[str] | None = None, start: str | None = None,
           end: str | None = None, limit: int = 5000) -> dict:
    """Dated events the viewer may see (crossings, interceptions, arrests), placed where they can be."""
    s, e = tables.statements, tables.entities
    q = (select(s.c.entity_id, s.c.prop, s.c.value, s.c.agency, s.c.classification, s.c.caveat)
         .where(s.c.schema == "Event").where(visible_clause(user))
         .where(s.c.prop.in_(("name", "date", "startDate", "summary", "address", "country", "location",
                              "involved", "description")))
         .order_by(s.c.id))
    raw: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    marks: dict[str, set] = defaultdict(set)
    for r in conn.execute(q):
        raw[r.entity_id][r.prop].append(r.value)
        raw[r.entity_id]["_agency"].append(r.agency)
        marks[r.entity_id].add((r.classification, r.caveat))
    involved_ids = sorted({v for d in raw.values() for v in d.get("involved", [])})
    canon: dict[str, str] = {}
    for i in range(0, len(involved_ids), 500):
        for eid, cid in conn.execute(select(e.c.id, _canon()).where(e.c.id.in_(involved_ids[i:i + 500]))):
            canon[eid] = cid
    out, used = [], set()
    for eid, d in raw.items():
        day = (d.get("date") or d.get("startDate") or [None])[0]
        if not day:
            continue
        day = day[:10]
        if (start and day < start) or (end and day > end):
            continue
        people = sorted({canon.get(x, x) for x in d.get("involved", [])})
        if involving is not None and not involving.intersection(people):
            continue
        name = " ".join(d.get("name", [])) or "event"
        place = (d.get("address") or [None])[0]
        where = None
        for text in d.get("summary", []) + d.get("location", []):
            where = where or _coords(text)
        if where is None and place:
            where = PLACES.get(place.strip().lower())
        if where is None and not place:
            country = (d.get("country") or [None])[0]
            if country in COUNTRY_DEFAULT and event_kind(name) == "crossing":
                place, lat, lon = COUNTRY_DEFAULT[country]
                where = (lat, lon)
        out.append({"id": eid, "date": day, "kind": event_kind(name), "name": name, "place": place,
                    "lat": where[0] if where else None, "lon": where[1] if where else None,
                    "agency": d["_agency"][0], "entities": people})
        used |= marks[eid]
    out.sort(key=lambda x: (x["date"], x["id"]))
    counts = defaultdict(int)
    for x in out:
        counts[x["kind"]] += 1
    return {"events": out[:limit], "total": len(out), "counts": dict(counts),
            "marking": as_json(highest([Marking.make(c, v) for c, v in used]))}


def routes(found: dict) -> list[dict]:
    """A line per entity through its placed events in time order (a network's routes)."""
    by: dict[str, list] = defaultdict(list)
    for ev in found["events"]:
        if ev["lat"] is None:
            continue
        for p in ev["entities"]:
            by[p].append(ev)
    lines = []
    for p, evs in sorted(by.items()):
        pts = []
        for ev in evs:
            pt = [ev["lat"], ev["lon"]]
            if not pts or pts[-1] != pt:
                pts.append(pt)
        if len(pts) > 1:
            lines.append({"entity": p, "points": pts, "from": evs[0]["date"], "to": evs[-1]["date"]})
    return lines


def quarters(figures) -> list[dict]:
    """People per complete calendar quarter, each ranked among the same quarter of every year held."""
    if not figures.dates:
        return []
    out = []
    for year in range(figures.first.year, figures.last.year + 1):
        for q in range(4):
            s, e = date(year, 3 * q + 1, 1), (date(year + (q == 3), (3 * q + 4) % 12 or 12, 1))
            e = date.fromordinal(e.toordinal() - 1)
            if figures.covers(s, e):
                t = figures.total(s, e)
                out.append({"year": year, "quarter": q + 1, "from": t["from"], "to": t["to"],
                            "people": t["people"], "boats": t["boats"]})
    for q in range(1, 5):
        same = [x for x in out if x["quarter"] == q]
        for x in same:
            x["rank"] = 1 + sum(1 for y in same if y["people"] > x["people"])
            earlier = [y for y in same if y["year"] <= x["year"]]
            x["record_at_the_time"] = len(earlier) > 1 and all(y["people"] <= x["people"] for y in earlier)
            x["of_years"] = len(same)
    return out


def situation(store) -> dict:
    """Everything the situation page shows: series by day, week, month, year; quarters; year to date."""
    from tessera.situation.stats import Figures

    figures = Figures.from_store(store)
    if not figures.dates:
        return {"first": None, "last": None, "series": {}, "quarters": [], "year_to_date": None}
    series = {freq: [{k: p[k] for k in ("period", "from", "to", "people", "boats", "complete")}
                     for p in figures.series(freq)] for freq in ("day", "week", "month", "year")}
    qs = quarters(figures)
    latest = qs[-1] if qs else None
    return {"first": figures.first.isoformat(), "last": figures.last.isoformat(), "series": series,
            "quarters": qs, "latest_quarter": figures.compare(date.fromisoformat(latest["from"]),
                                                              date.fromisoformat(latest["to"])) if latest else None,
            "year_to_date": figures.year_to_date()}


def agency_mappings(conn, agency: str, limit: int) -> list[dict]:
    """Distinct mappings an agency's batches were read with, newest first, each with the file it last read."""
    b = tables.batches
    q = (select(b.c.id, b.c.file_name, b.c.received_at, b.c.mapping, b.c.mapping_sha256)
         .where(b.c.agency == agency).where(b.c.mapping.is_not(None)).order_by(b.c.id.desc()).limit(limit * 5))
    out, seen = [], set()
    for r in conn.execute(q):
        if r.mapping_sha256 in seen or not (r.mapping or "").strip():
            continue
        seen.add(r.mapping_sha256)
        received = r.received_at.isoformat() if hasattr(r.received_at, "isoformat") else str(r.received_at)
        out.append({"batch": r.id, "file": r.file_name, "received_at": received, "mapping": r.mapping})
        if len(out) >= limit:
            break
    return out
