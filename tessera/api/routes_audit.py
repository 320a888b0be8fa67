"""The audit log over HTTP, for supervisors and admins: entries (paginated) and the chain's verification.

An admin sees every entry. A supervisor sees the entries of their own agency's users only: the log holds
other agencies' queries and the entities they looked at, which are theirs to supervise, not a partner's.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from tessera.access import audit
from tessera.access.tables import audit_log, users
from tessera.api.deps import PREFIX, LimitQuery, OffsetQuery, UserDep, page, record_audit, require_role, store_of

router = APIRouter(prefix=f"{PREFIX}/audit", tags=["audit"])


@router.get("", summary="Audit entries, newest first, by user, entity or action (supervisors and admins)")
def entries(request: Request, user: UserDep,
            by: Annotated[str | None, Query(alias="user", max_length=128, description="only this user's")] = None,
            entity: Annotated[str | None, Query(max_length=300, description="only entries naming it")] = None,
            action: Annotated[str | None, Query(max_length=64, description="only this action")] = None,
            limit: LimitQuery = 50, offset: OffsetQuery = 0) -> dict:
    require_role(user, "supervisor", "admin")
    store = store_of(request)
    query = select(audit_log)
    if "admin" not in user.roles:
        query = query.where(audit_log.c.user_name.in_(select(users.c.name).where(users.c.agency == user.agency)))
    if by:
        query = query.where(audit_log.c.user_name == by)
    if action:
        query = query.where(audit_log.c.action == action)
    if entity:
        query = query.where(audit_log.c.entities.contains(json.dumps(entity, ensure_ascii=False)))
    with store.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = connection.execute(query.order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)).all()
    items = [audit._entry(r).as_dict() for r in rows]
    record_audit(store, user, "audit.view", [], json.dumps(dict(user=by, entity=entity, action=action),
                                                           sort_keys=True))
    return page(request, items, total, limit, offset)


@router.get("/verify", summary="Check the hash chain: ok, or the first entry edited, deleted or moved")
def verify(request: Request, user: UserDep) -> dict:
    require_role(user, "supervisor", "admin")
    store = store_of(request)
    verdict = audit.verify(store).as_dict()
    record_audit(store, user, "audit.verify", [], None, purpose="ok" if verdict["ok"] else verdict["problem"])
    return verdict
