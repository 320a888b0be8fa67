"""Webhooks: alerts POSTed as JSON signed with HMAC-SHA256, retried with exponential backoff, each try recorded.

Headers: ``X-Tessera-Timestamp`` (Unix seconds), ``X-Tessera-Signature: sha256=<hex>`` where the hex is
HMAC-SHA256 of ``f"{timestamp}.{body}"`` under the webhook's secret, and ``X-Tessera-Delivery`` (the id).
A receiver recomputes the signature and refuses old timestamps. The body is the alert as the webhook's
owner may see it at delivery time (an alert they may no longer see is withheld, not sent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import httpx
from sqlalchemy import Connection, insert, select, update

from tessera.access.identity import NotFound, get_user
from tessera.alerts import feed
from tessera.alerts.tables import deliveries, webhooks

MAX_ATTEMPTS = 8
BASE_BACKOFF = 5.0     # seconds; the n-th retry waits BASE_BACKOFF * 2**(n-1), at most MAX_BACKOFF
MAX_BACKOFF = 3600.0
TIMEOUT = 5.0


class WebhookError(ValueError):
    """A webhook that cannot be registered."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does: recompute the signature and refuse timestamps outside the tolerance."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature or "")


def backoff(attempts: int) -> float:
    return min(BASE_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def add_webhook(connection: Connection, user_name: str, url: str) -> dict:
    """Register a webhook for a user's alerts; the signing secret is returned here once."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WebhookError(f"webhook URL {url!r}: expected an http(s) URL")
    get_user(connection, user_name)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook_id = connection.execute(insert(webhooks).values(
        user_name=user_name, url=url, secret=secret, created_at=datetime.now(timezone.utc), active=True)
    ).inserted_primary_key[0]
    return dict(id=int(hook_id), user=user_name, url=url, secret=secret)


def list_webhooks(connection: Connection, user_name: str) -> list[dict]:
    return [dict(id=r.id, url=r.url, active=r.active, created_at=r.created_at) for r in connection.execute(
        select(webhooks).where(webhooks.c.user_name == user_name).order_by(webhooks.c.id))]


def remove_webhook(connection: Connection, user_name: str, hook_id: int) -> None:
    result = connection.execute(update(webhooks).where(webhooks.c.id == hook_id)
                                .where(webhooks.c.user_name == user_name).values(active=False))
    if result.rowcount == 0:
        raise NotFound(f"{user_name} has no webhook {hook_id}")


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def deliver_due(store, now: datetime | None = None, client: httpx.Client | None = None, limit: int = 100) -> dict:
    """Try every delivery that is due; record each try, schedule retries with backoff; returns counts."""
    now = now or datetime.now(timezone.utc)
    counts = dict(delivered=0, retrying=0, failed=0, withheld=0)
    with store.engine.connect() as connection:
        due = list(connection.execute(
            select(deliveries, webhooks.c.url, webhooks.c.secret, webhooks.c.user_name, webhooks.c.active)
            .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
            .where(deliveries.c.status == "pending").where(deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.id).limit(limit)))
    if not due:
        return counts
    own = client is None
    client = client or httpx.Client(timeout=TIMEOUT)
    try:
        for row in due:
            with store.engine.connect() as connection:
                alert = feed.get(connection, row.alert_id)
                try:
                    user = get_user(connection, row.user_name)
                except NotFound:
                    user = None
                body_obj = feed.render(connection, user, alert) if (alert is not None and user is not None
                                                                    and not user.disabled) else None
            values: dict = dict(last_attempt_at=now)
            if body_obj is None or not row.active:
                values.update(status="withheld")
                counts["withheld"] += 1
            else:
                body = json.dumps(dict(type="tessera.alert", alert=body_obj), sort_keys=True).encode("utf-8")
                stamp = int(now.timestamp())
                headers = {"Content-Type": "application/json", "X-Tessera-Timestamp": str(stamp),
                           "X-Tessera-Signature": sign(row.secret, stamp, body),
                           "X-Tessera-Delivery": str(row.id)}
                attempts = row.attempts + 1
                values.update(attempts=attempts)
                try:
                    response = client.post(row.url, content=body, headers=headers)
                    status, error = response.status_code, None if response.is_success else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"[:500]
                values.update(last_status=status, last_error=error)
                if error is None:
                    values.update(status="delivered", delivered_at=now, next_attempt_at=None)
                    counts["delivered"] += 1
                elif attempts >= MAX_ATTEMPTS:
                    values.update(status="failed", next_attempt_at=None)
                    counts["failed"] += 1
                else:
                    values.update(next_attempt_at=now + timedelta(seconds=backoff(attempts)))
                    counts["retrying"] += 1
            with store.engine.begin() as connection:
                connection.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
    finally:
        if own:
            client.close()
    return counts


def list_deliveries(connection: Connection, alert_id: int | None = None) -> list[dict]:
    query = select(deliveries).order_by(deliveries.c.id)
    if alert_id is not None:
        query = query.where(deliveries.c.alert_id == alert_id)
    out = []
    for r in connection.execute(query):
        item = dict(r._mapping)
        for key in ("next_attempt_at", "last_attempt_at", "delivered_at"):
            item[key] = _aware(item[key])
        out.append(item)
    return out
