"""Server-side web sessions: a random cookie token (only its SHA-256 stored), expiry, idle timeout and logout."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, insert, select, update

from tessera.access import audit
from tessera.access.identity import IdentityError, TokenRefused, _aware, get_user, token_digest
from tessera.access.policy import User
from tessera.access.tables import sessions, users

SESSION_PREFIX = "tss_"
# Sessions live at most this long from login ($TESSERA_SESSION_HOURS, default 12) and end after this
# long without a request ($TESSERA_SESSION_IDLE_MINUTES, default 30).
DEFAULT_HOURS = 12.0
DEFAULT_IDLE_MINUTES = 30.0
# last_seen_at is written at most this often, so that reads do not each cost a write.
TOUCH_EVERY = timedelta(seconds=30)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def lifetime() -> timedelta:
    return timedelta(hours=float(os.environ.get("TESSERA_SESSION_HOURS", DEFAULT_HOURS)))


def idle_timeout() -> timedelta:
    return timedelta(minutes=float(os.environ.get("TESSERA_SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES)))


def create_session(connection: Connection, user_name: str, now: datetime | None = None) -> str:
    """Open a session for an (already authenticated) user; returns the token, which is never stored."""
    user = get_user(connection, user_name)
    if user.disabled:
        raise IdentityError(f"user {user_name!r} is disabled")
    now = now or _now()
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    result = connection.execute(insert(sessions).values(token_sha256=token_digest(token), user_id=user.id,
                                                        created_at=now, last_seen_at=now,
                                                        expires_at=now + lifetime()))
    audit.record(connection, user.name, "session.create", [f"user:{user.name}",
                                                           f"session:{result.inserted_primary_key[0]}"])
    return token


def user_for_session(connection: Connection, token: str, now: datetime | None = None) -> User:
    """The user of a live session; TokenRefused if it is unknown, ended, expired, idle too long or disabled.

    Records the request time (at most every TOUCH_EVERY) for the idle timeout: call it inside a transaction
    that is committed (engine.begin()).
    """
    now = now or _now()
    row = connection.execute(select(sessions).where(sessions.c.token_sha256 == token_digest(token))).first()
    if row is None:
        raise TokenRefused("unknown session")
    if row.ended_at is not None:
        raise TokenRefused("session ended")
    if _aware(row.expires_at) <= now:
        raise TokenRefused("session expired")
    last = _aware(row.last_seen_at)
    if last + idle_timeout() <= now:
        raise TokenRefused("session idle too long")
    name = connection.execute(select(users.c.name).where(users.c.id == row.user_id)).scalar_one()
    user = get_user(connection, name)
    if user.disabled:
        raise TokenRefused("user disabled")
    if now - last >= TOUCH_EVERY:
        connection.execute(update(sessions).where(sessions.c.id == row.id).values(last_seen_at=now))
    return user


def end_session(connection: Connection, token: str, now: datetime | None = None) -> bool:
    """Log out: end the session of this token; False if there was no live session."""
    row = connection.execute(select(sessions.c.id, users.c.name).join(users, users.c.id == sessions.c.user_id)
                             .where(sessions.c.token_sha256 == token_digest(token))
                             .where(sessions.c.ended_at.is_(None))).first()
    if row is None:
        return False
    connection.execute(update(sessions).where(sessions.c.id == row.id).values(ended_at=now or _now()))
    audit.record(connection, row.name, "session.end", [f"user:{row.name}", f"session:{row.id}"])
    return True


def end_user_sessions(connection: Connection, user_name: str, now: datetime | None = None) -> int:
    """End every live session of a user (e.g. when disabling them); returns how many."""
    user = get_user(connection, user_name)
    count = connection.execute(update(sessions).where(sessions.c.user_id == user.id)
                               .where(sessions.c.ended_at.is_(None)).values(ended_at=now or _now())).rowcount
    if count:
        audit.record(connection, "system", "session.end", [f"user:{user_name}"])
    return count
