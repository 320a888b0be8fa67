"""Identity: agencies, users with argon2 passwords, API tokens kept only as hashes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import access_helpers  # noqa: F401
import pytest
from sqlalchemy import select

from tessera.access import identity
from tessera.access.tables import api_tokens, users


def _nca_and_dgpn(connection):
    identity.add_agency(connection, "NCA", "UK", "National Crime Agency", contact="ocu@nca.example")
    identity.add_agency(connection, "dgpn", "fr", hit_policy="silent")


def test_an_analyst_signs_in_with_her_password_and_not_with_another(store):
    with store.engine.begin() as connection:
        _nca_and_dgpn(connection)
        user = identity.add_user(connection, "amelie", "DGPN", "secret", "correct horse", ["analyst"])
    assert (user.agency, user.country, user.clearance, user.nationality) == ("DGPN", "FR", "SECRET", "FR")
    with store.engine.connect() as connection:
        assert identity.verify_password(connection, "amelie", "correct horse").name == "amelie"
        assert identity.verify_password(connection, "amelie", "wrong") is None
        assert identity.verify_password(connection, "nobody", "correct horse") is None
        stored = connection.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_agencies_users_and_roles_are_checked(store):
    with store.engine.begin() as connection:
        _nca_and_dgpn(connection)
        assert identity.get_agency(connection, "nca")["country"] == "GB"
        with pytest.raises(identity.Conflict):
            identity.add_agency(connection, "NCA", "GB")
        with pytest.raises(identity.IdentityError):
            identity.add_agency(connection, "BKA", "DE", hit_policy="loud")
        with pytest.raises(identity.NotFound):
            identity.add_user(connection, "x", "NOPE", "SECRET", "pw")
        with pytest.raises(identity.IdentityError):
            identity.add_user(connection, "x", "NCA", "COSMIC", "pw")
        with pytest.raises(identity.IdentityError):
            identity.add_user(connection, "x", "NCA", "SECRET", "pw", ["god"])
        identity.add_user(connection, "luc", "NCA", "TOP SECRET", "pw", ["analyst", "admin"], nationality="FR")
        with pytest.raises(identity.Conflict):
            identity.add_user(connection, "luc", "NCA", "SECRET", "pw")
        luc = identity.get_user(connection, "luc")
    assert (luc.clearance, luc.nationality, luc.country, luc.roles) == ("TOP-SECRET", "FR", "GB",
                                                                       ("analyst", "admin"))


def test_a_token_is_shown_once_stored_as_a_hash_and_refused_once_revoked(store):
    with store.engine.begin() as connection:
        _nca_and_dgpn(connection)
        identity.add_user(connection, "tom", "NCA", "SECRET", "pw")
        issued = identity.create_token(connection, "tom", days=30)
    with store.engine.connect() as connection:
        assert identity.authenticate_token(connection, issued.token).name == "tom"
        stored = connection.execute(select(api_tokens.c.token_sha256)).scalar_one()
    assert stored == identity.token_digest(issued.token) and issued.token not in stored
    with store.engine.begin() as connection:
        assert identity.revoke_token(connection, issued.token) == 1
    with store.engine.connect() as connection, pytest.raises(identity.TokenRefused, match="revoked"):
        identity.authenticate_token(connection, issued.token)


def test_unknown_and_expired_tokens_and_disabled_users_are_refused(store):
    with store.engine.begin() as connection:
        _nca_and_dgpn(connection)
        identity.add_user(connection, "tom", "NCA", "SECRET", "pw")
        short = identity.create_token(connection, "tom", days=1)
        other = identity.create_token(connection, "tom", days=None)
    later = datetime.now(timezone.utc) + timedelta(days=2)
    with store.engine.connect() as connection:
        with pytest.raises(identity.TokenRefused, match="unknown"):
            identity.authenticate_token(connection, "tsr_made-up")
        with pytest.raises(identity.TokenRefused, match="expired"):
            identity.authenticate_token(connection, short.token, now=later)
        assert identity.authenticate_token(connection, other.token, now=later).name == "tom"
    with store.engine.begin() as connection:
        identity.set_disabled(connection, "tom")
    with store.engine.connect() as connection, pytest.raises(identity.TokenRefused, match="disabled"):
        identity.authenticate_token(connection, other.token)
    with store.engine.begin() as connection:
        assert identity.revoke_token(connection, user="tom") == 2
