"""The alerts store: alerts written for watchers, read back only as far as the access policy lets each one see."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Connection, func, insert, or_, select, update

from tessera.access.policy import User, visible_clause
from tessera.alerts.tables import alerts, deliveries, webhooks
from tessera.store import tables

KINDS = ("attached", "merged", "split", "network")


def visible_ids(connection: Connection, user: User, ids: list[str]) -> set[str]:
    """Those of `ids` (source or canonical entity ids) of which the user may see at least one statement."""
    s, e = tables.statements, tables.entities
    wanted = set(ids)
    out: set[str] = set()
    ordered = sorted(wanted)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i:i + 500]
        query = (select(e.c.id, e.c.canonical_id).distinct()
                 .select_from(s.join(e, e.c.id == s.c.entity_id))
                 .where(or_(e.c.id.in_(chunk), e.c.canonical_id.in_(chunk))).where(visible_clause(user)))
        for eid, cid in connection.execute(query):
            out |= {eid, cid} & wanted
    return out


def create(connection: Connection, user_name: str, watch_id: int, kind: str, subject: str, entities: list[str],
           detail: dict | None = None) -> int:
    """Write one alert and queue it for each of the watcher's active webhooks; returns its id."""
    now = datetime.now(timezone.utc)
    alert_id = connection.execute(insert(alerts).values(
        user_name=user_name, watch_id=watch_id, created_at=now, kind=kind, subject=subject,
        entities=json.dumps(sorted(entities)), detail=json.dumps(detail or {}, sort_keys=True))
    ).inserted_primary_key[0]
    hooks = [h for (h,) in connection.execute(select(webhooks.c.id).where(webhooks.c.user_name == user_name)
                                              .where(webhooks.c.active.is_(True)))]
    if hooks:
        connection.execute(insert(deliveries), [dict(alert_id=alert_id, webhook_id=h, status="pending", attempts=0,
                                                     next_attempt_at=now) for h in hooks])
    return int(alert_id)


def _message(kind: str, subject: str, count: int) -> str:
    if kind == "attached":
        return f"{count} new record(s) attached to {subject}"
    if kind == "merged":
        return f"{subject} merged with {count} record(s) resolved elsewhere before"
    if kind == "split":
        return f"{subject} split: {count} record(s) now resolve elsewhere"
    return f"the network around {subject} changed: {count} entit(ies) joined or left"


def render(connection: Connection, user: User, row) -> dict | None:
    """An alert as this user may see it: only the entities they may see; None if they may see none."""
    ids = json.loads(row.entities)
    seen = visible_ids(connection, user, ids) if ids else set()
    if not seen:
        return None
    detail = json.loads(row.detail or "{}")
    for key in ("joined", "left"):
        if key in detail:
            detail[key] = [x for x in detail[key] if x in seen]
    created = row.created_at
    if isinstance(created, datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return dict(id=int(row.id), watch_id=row.watch_id, kind=row.kind, subject=row.subject,
                created_at=created.isoformat() if isinstance(created, datetime) else created,
                entities=sorted(seen), count=len(seen), detail=detail,
                acked=row.acked_at is not None, message=_message(row.kind, row.subject, len(seen)))


def list_alerts(connection: Connection, user: User, after_id: int = 0, limit: int = 100,
                unacked: bool = False) -> list[dict]:
    """The user's alerts after `after_id`, oldest first, as the policy lets them see them."""
    out: list[dict] = []
    cursor = after_id
    while len(out) < limit:
        query = (select(alerts).where(alerts.c.user_name == user.name).where(alerts.c.id > cursor)
                 .order_by(alerts.c.id).limit(limit))
        if unacked:
            query = query.where(alerts.c.acked_at.is_(None))
        rows = list(connection.execute(query))
        if not rows:
            break
        for row in rows:
            cursor = int(row.id)
            item = render(connection, user, row)
            if item is not None:
                out.append(item)
                if len(out) >= limit:
                    break
    return out


def ack(connection: Connection, user: User, alert_id: int) -> bool:
    """Mark one of the user's alerts read; False if it is not theirs (or does not exist)."""
    result = connection.execute(update(alerts).where(alerts.c.id == alert_id).where(alerts.c.user_name == user.name)
                                .where(alerts.c.acked_at.is_(None)).values(acked_at=datetime.now(timezone.utc)))
    if result.rowcount:
        return True
    return connection.execute(select(func.count()).select_from(alerts).where(alerts.c.id == alert_id)
                              .where(alerts.c.user_name == user.name)).scalar_one() > 0


def get(connection: Connection, alert_id: int):
    return connection.execute(select(alerts).where(alerts.c.id == alert_id)).first()
