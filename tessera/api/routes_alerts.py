"""Alert routes: watchlists, alerts (list, acknowledge, Server-Sent Events stream), webhooks and notices."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tessera.access import deconfliction
from tessera.access.identity import NotFound
from tessera.alerts import delivery, feed, watches
from tessera.api.deps import PREFIX, Problem, SmallId, UserDep, record_audit, store_of

router = APIRouter(prefix=PREFIX, tags=["alerts"])

STREAM_POLL_SECONDS = 1.0
BigIdPath = Annotated[int, Path(ge=0, le=2**62)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text holds no NUL
KEEPALIVE_SECONDS = 15.0


class WatchIn(BaseModel):
    target: str = Field(min_length=1, max_length=96, pattern=NO_NUL, description="canonical or source entity id")
    kind: Literal["entity", "network"] = "entity"
    hops: int = Field(1, ge=1, le=3, description="network radius")
    label: str | None = Field(None, max_length=200, pattern=NO_NUL)


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000, pattern=NO_NUL, description="http(s) URL receiving signed POSTs")


@router.get("/watches", summary="The caller's watches")
def list_watches(request: Request, user: UserDep) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        items = watches.list_watches(connection, user.name)
    record_audit(store, user, "watches.list", sorted({w["target"] for w in items}), None)
    return dict(items=items, total=len(items))


@router.post("/watches", status_code=201, summary="Watch an entity the caller may see, or its network")
def add_watch(request: Request, user: UserDep, body: WatchIn) -> dict:
    store = store_of(request)
    try:
        watch = watches.add_watch(store, user.name, body.target, body.kind, body.hops, body.label)
    except NotFound:
        record_audit(store, user, "watch.add", [], body.target, purpose="not found")
        raise Problem(404, "Not Found", f"no entity {body.target!r}") from None
    except watches.WatchError as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None
    record_audit(store, user, "watch.add", [body.target], None)
    return watch


@router.delete("/watches/{watch_id}", status_code=204, summary="Stop watching")
def remove_watch(request: Request, user: UserDep, watch_id: SmallId) -> None:
    store = store_of(request)
    try:
        with store.engine.begin() as connection:
            watches.remove_watch(connection, user.name, watch_id)
    except NotFound:
        record_audit(store, user, "watch.remove", [f"watch:{watch_id}"], None, purpose="not found")
        raise Problem(404, "Not Found", f"no watch {watch_id}") from None
    record_audit(store, user, "watch.remove", [f"watch:{watch_id}"], None)


@router.get("/alerts", summary="The caller's alerts, as far as the caller may see them")
def list_alerts(request: Request, user: UserDep,
                after: Annotated[int, Query(ge=0, le=2**62, description="only alerts after this id")] = 0,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                unacked: bool = False) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        items = feed.list_alerts(connection, user, after, limit, unacked)
    record_audit(store, user, "alerts.list", sorted({e for a in items for e in a["entities"]}), None)
    return dict(items=items, total=len(items))


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge one of the caller's alerts")
def ack_alert(request: Request, user: UserDep, alert_id: BigIdPath) -> dict:
    store = store_of(request)
    with store.engine.begin() as connection:
        found = feed.ack(connection, user, alert_id)
    record_audit(store, user, "alert.ack", [f"alert:{alert_id}"], None, purpose=None if found else "not found")
    if not found:
        raise Problem(404, "Not Found", f"no alert {alert_id}")
    return dict(id=alert_id, acked=True)


def _event(item: dict) -> str:
    return f"id: {item['id']}\nevent: alert\ndata: {json.dumps(item, separators=(',', ':'))}\n\n"


@router.get("/alerts/stream", summary="The caller's alerts as Server-Sent Events (resumes after Last-Event-ID)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "an event stream"}})
async def stream_alerts(request: Request, user: UserDep,
                        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                        after: Annotated[int | None, Query(ge=0, le=2**62, description="as Last-Event-ID")] = None,
                        max_seconds: Annotated[float | None, Query(gt=0, le=86400,
                                                                   description="close the stream after this long")] = None):
    store = store_of(request)
    try:
        cursor = int(last_event_id) if last_event_id is not None else (after or 0)
    except ValueError:
        cursor = after or 0
    cursor = max(cursor, 0)
    await run_in_threadpool(record_audit, store, user, "alerts.stream", [], f"after {cursor}")

    def fetch(after_id: int) -> list[dict]:
        with store.engine.connect() as connection:
            return feed.list_alerts(connection, user, after_id, 100)

    async def events():
        nonlocal cursor
        started = last_sent = time.monotonic()
        yield f"retry: {int(STREAM_POLL_SECONDS * 3000)}\n\n"
        while True:
            items = await run_in_threadpool(fetch, cursor)
            for item in items:
                cursor = item["id"]
                yield _event(item)
                last_sent = time.monotonic()
            now = time.monotonic()
            if max_seconds is not None and now - started >= max_seconds:
                return
            if await request.is_disconnected():
                return
            if now - last_sent >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent = now
            if not items:
                wait = STREAM_POLL_SECONDS if max_seconds is None else min(STREAM_POLL_SECONDS,
                                                                           max(max_seconds - (now - started), 0.01))
                await asyncio.sleep(wait)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/webhooks", summary="The caller's webhooks (secrets are not shown again)")
def list_webhooks(request: Request, user: UserDep) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        items = delivery.list_webhooks(connection, user.name)
    record_audit(store, user, "webhooks.list", [f"webhook:{h['id']}" for h in items], None)
    return dict(items=items, total=len(items))


@router.post("/webhooks", status_code=201, summary="Send the caller's alerts to a URL, signed; the secret is shown once")
def add_webhook(request: Request, user: UserDep, body: WebhookIn) -> dict:
    store = store_of(request)
    try:
        with store.engine.begin() as connection:
            hook = delivery.add_webhook(connection, user.name, body.url)
    except delivery.WebhookError as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None
    host = urlsplit(body.url).netloc.rpartition("@")[2]  # not the path or credentials: they may hold a key
    record_audit(store, user, "webhook.add", [f"webhook:{hook['id']}"], host)
    return hook


@router.delete("/webhooks/{hook_id}", status_code=204, summary="Stop a webhook")
def remove_webhook(request: Request, user: UserDep, hook_id: SmallId) -> None:
    store = store_of(request)
    try:
        with store.engine.begin() as connection:
            delivery.remove_webhook(connection, user.name, hook_id)
    except NotFound:
        record_audit(store, user, "webhook.remove", [f"webhook:{hook_id}"], None, purpose="not found")
        raise Problem(404, "Not Found", f"no webhook {hook_id}") from None
    record_audit(store, user, "webhook.remove", [f"webhook:{hook_id}"], None)


@router.get("/notices", summary="Deconfliction notices to the caller's agency (no content, only references)")
def list_notices(request: Request, user: UserDep,
                 after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 kind: Literal["hit", "seen", "searched"] | None = None) -> dict:
    store = store_of(request)
    with store.engine.connect() as connection:
        items = deconfliction.list_notices(connection, user.agency, after, limit, kind)
        own = sorted({i[k] for i in items for k in ("own_entity", "subject") if i.get(k)})
        seen = feed.visible_ids(connection, user, own) if own else set()
    for item in items:  # the agency's own ids, shown only to those who may see the record itself
        for key in ("own_entity", "subject"):
            if item["trigger"] == "blind" and item["kind"] == "hit":
                continue  # the row reference the agency itself put in its hash file
            if item.get(key) and item[key] not in seen:
                item[key] = None
    record_audit(store, user, "notices.list", [], None)
    return dict(items=items, total=len(items))


def install(app) -> None:
    """Run the alert pump beside the server for as long as it serves ($TESSERA_ALERT_PUMP_SECONDS, 0: off)."""
    from tessera.alerts.pump import Pump

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a):
        pump = Pump(a.state.store).start()
        try:
            async with inner(a) as state:
                yield state
        finally:
            await run_in_threadpool(pump.stop)

    app.router.lifespan_context = lifespan
