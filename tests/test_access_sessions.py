"""Web sessions: only the token's hash is kept, and a session ends by logout, expiry, idleness or a disabled user."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import access_helpers  # noqa: F401  (cheap argon2)
import pytest
from sqlalchemy import select

from tessera.access import audit, identity, sessions
from tessera.access.tables import sessions as sessions_table


@pytest.fixture
def alice(store):
    with store.engine.begin() as conn:
        identity.add_agency(conn, "NCA", "GB")
        identity.add_user(conn, "alice", "NCA", "SECRET", "pw")
    return store


def test_a_session_names_its_user_and_only_its_hash_is_stored(alice):
    with alice.engine.begin() as conn:
        token = sessions.create_session(conn, "alice")
    with alice.engine.begin() as conn:
        user = sessions.user_for_session(conn, token)
        stored = conn.execute(select(sessions_table.c.token_sha256)).scalars().all()
    assert user.name == "alice" and user.agency == "NCA"
    assert stored == [identity.token_digest(token)] and token not in stored
    assert [e.action for e in audit.show(alice, user="alice")][-1] == "session.create"


def test_logout_ends_the_session(alice):
    with alice.engine.begin() as conn:
        token = sessions.create_session(conn, "alice")
        assert sessions.end_session(conn, token) is True
        assert sessions.end_session(conn, token) is False
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="ended"):
        sessions.user_for_session(conn, token)


def test_unknown_expired_and_idle_sessions_are_refused(alice, monkeypatch):
    now = datetime.now(timezone.utc)
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="unknown"):
        sessions.user_for_session(conn, "tss_made-up")
    monkeypatch.setenv("TESSERA_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("TESSERA_SESSION_HOURS", "2")
    with alice.engine.begin() as conn:
        token = sessions.create_session(conn, "alice", now=now)
    # used every 20 minutes, it stays alive past the idle timeout, until the lifetime ends
    for minutes in (20, 40, 60, 80, 100):
        with alice.engine.begin() as conn:
            assert sessions.user_for_session(conn, token, now=now + timedelta(minutes=minutes)).name == "alice"
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="expired"):
        sessions.user_for_session(conn, token, now=now + timedelta(minutes=121))
    with alice.engine.begin() as conn:
        idle = sessions.create_session(conn, "alice", now=now)
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="idle"):
        sessions.user_for_session(conn, idle, now=now + timedelta(minutes=31))


def test_a_disabled_user_loses_their_sessions(alice):
    with alice.engine.begin() as conn:
        token = sessions.create_session(conn, "alice")
        identity.set_disabled(conn, "alice")
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="disabled"):
        sessions.user_for_session(conn, token)
    with alice.engine.begin() as conn, pytest.raises(identity.IdentityError):
        sessions.create_session(conn, "alice")
    with alice.engine.begin() as conn:
        identity.set_disabled(conn, "alice", False)
        assert sessions.end_user_sessions(conn, "alice") == 1
    with alice.engine.begin() as conn, pytest.raises(identity.TokenRefused, match="ended"):
        sessions.user_for_session(conn, token)
