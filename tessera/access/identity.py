"""Agencies, users, passwords (argon2) and API tokens (stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.access import audit
from tessera.access.policy import ROLES, User, country_code
from tessera.access.tables import api_tokens, users
from tessera.model.markings import MarkingError, normalise_classification
from tessera.store import tables

HIT_POLICIES = ("open", "silent", "none")
TOKEN_PREFIX = "tsr_"


class IdentityError(ValueError):
    """A request about agencies, users or tokens that cannot be met."""

    code = "invalid"


class NotFound(IdentityError):
    code = "not_found"


class Conflict(IdentityError):
    code = "conflict"


class TokenRefused(IdentityError):
    """A token that does not authenticate: unknown, expired, revoked or its user disabled."""

    code = "refused"


@cache
def password_hasher() -> PasswordHasher:
    """The argon2id hasher. $TESSERA_ARGON2_TIME_COST / _MEMORY_KIB lower its cost (tests only)."""
    time_cost = int(os.environ.get("TESSERA_ARGON2_TIME_COST", 3))
    memory = int(os.environ.get("TESSERA_ARGON2_MEMORY_KIB", 65536))
    return PasswordHasher(time_cost=time_cost, memory_cost=memory, parallelism=min(4, os.cpu_count() or 1))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)  # SQLite hands back naive datetimes we stored as UTC


# --- agencies ---------------------------------------------------------------------------------------

def _country(text: str, what: str) -> str:
    code = country_code(text)
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise IdentityError(f"{what} must be a two-letter country code, not {text!r}")
    return code


def add_agency(connection: Connection, code: str, country: str, name: str | None = None,
               contact: str | None = None, hit_policy: str = "open", phone_region: str | None = None,
               actor: str = "system") -> dict:
    """Register an agency in the foundation `agencies` table."""
    code = code.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_.-]{0,31}", code):
        raise IdentityError(f"agency code {code!r}: letters, digits, '_', '.', '-', at most 32")
    if hit_policy not in HIT_POLICIES:
        raise IdentityError(f"hit policy {hit_policy!r}: expected one of {', '.join(HIT_POLICIES)}")
    country = _country(country, "country")
    row = dict(code=code, name=name or code, country=country,
               phone_region=_country(phone_region or country, "phone region"), contact=contact,
               hit_policy=hit_policy)
    if connection.execute(select(tables.agencies.c.code).where(tables.agencies.c.code == code)).first():
        raise Conflict(f"agency {code} already exists")
    connection.execute(insert(tables.agencies).values(**row))
    audit.record(connection, actor, "agency.add", [f"agency:{code}"])
    return row


def list_agencies(connection: Connection) -> list[dict]:
    return [dict(r._mapping) for r in connection.execute(select(tables.agencies).order_by(tables.agencies.c.code))]


def get_agency(connection: Connection, code: str) -> dict:
    row = connection.execute(select(tables.agencies).where(tables.agencies.c.code == code.strip().upper())).first()
    if row is None:
        raise NotFound(f"no agency {code!r}")
    return dict(row._mapping)


# --- users ------------------------------------------------------------------------------------------

def add_user(connection: Connection, name: str, agency: str, clearance: str, password: str,
             roles: list[str] | tuple[str, ...] = ("analyst",), nationality: str | None = None,
             actor: str = "system") -> User:
    """Create a user; the password is kept only as an argon2id hash."""
    name = name.strip()
    if not name:
        raise IdentityError("a user needs a name")
    if not password:
        raise IdentityError("a user needs a non-empty password")
    try:
        clearance = normalise_classification(clearance)
    except MarkingError as error:
        raise IdentityError(f"clearance: {error}") from None
    roles = tuple(dict.fromkeys(r.strip().lower() for r in roles or ("analyst",)))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise IdentityError(f"unknown role {bad[0]!r}: expected {', '.join(ROLES)}")
    home = get_agency(connection, agency)
    nationality = _country(nationality, "nationality") if nationality else home["country"]
    if connection.execute(select(users.c.id).where(users.c.name == name)).first():
        raise Conflict(f"user {name!r} already exists")
    try:
        result = connection.execute(insert(users).values(
            name=name, agency=home["code"], clearance=clearance, nationality=nationality, roles=",".join(roles),
            password_hash=password_hasher().hash(password), created_at=_now(), disabled=False))
    except IntegrityError:
        raise Conflict(f"user {name!r} already exists") from None
    audit.record(connection, actor, "user.add", [f"user:{name}"])
    return User(result.inserted_primary_key[0], name, home["code"], home["country"], clearance, nationality, roles)


def _user(connection: Connection, row) -> User:
    country = connection.execute(select(tables.agencies.c.country)
                                 .where(tables.agencies.c.code == row.agency)).scalar_one()
    return _user_of(row, country)


def _user_of(row, country: str) -> User:
    """A users row (id, name, agency, clearance, nationality, roles, disabled) and its agency's country."""
    return User(row.id, row.name, row.agency, country, row.clearance, row.nationality,
                tuple(r for r in row.roles.split(",") if r), bool(row.disabled))


def get_user(connection: Connection, name: str) -> User:
    row = connection.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return _user(connection, row)


def list_users(connection: Connection) -> list[User]:
    return [_user(connection, r) for r in connection.execute(select(users).order_by(users.c.name))]


def set_disabled(connection: Connection, name: str, disabled: bool = True, actor: str = "system") -> None:
    user = get_user(connection, name)
    connection.execute(update(users).where(users.c.id == user.id).values(disabled=disabled))
    audit.record(connection, actor, "user.disable" if disabled else "user.enable", [f"user:{name}"])


def verify_password(connection: Connection, name: str, password: str) -> User | None:
    """The user if the password is theirs and the account is enabled; None otherwise."""
    row = connection.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        password_hasher().hash(password)  # spend the same time as for a real user
        return None
    try:
        password_hasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    user = _user(connection, row)
    return None if user.disabled else user


# --- API tokens -------------------------------------------------------------------------------------

def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: the plain text is shown once and never stored."""

    id: int
    user: str
    token: str
    created_at: datetime
    expires_at: datetime | None


def create_token(connection: Connection, name: str, days: float | None = 90, label: str | None = None,
                 actor: str = "system") -> IssuedToken:
    """Issue an API token for a user; only its SHA-256 is stored. days=None: no expiry."""
    user = get_user(connection, name)
    if user.disabled:
        raise IdentityError(f"user {name!r} is disabled")
    if days is not None and days <= 0:
        raise IdentityError("a token must live for a positive number of days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    expires = now + timedelta(days=days) if days is not None else None
    result = connection.execute(insert(api_tokens).values(token_sha256=token_digest(token), user_id=user.id,
                                                          created_at=now, expires_at=expires, label=label))
    token_id = result.inserted_primary_key[0]
    audit.record(connection, actor, "token.create", [f"user:{name}", f"token:{token_id}"])
    return IssuedToken(token_id, name, token, now, expires)


_TOKEN_USER = (select(api_tokens.c.revoked_at, api_tokens.c.expires_at, users.c.id, users.c.name, users.c.agency,
                      users.c.clearance, users.c.nationality, users.c.roles, users.c.disabled,
                      tables.agencies.c.country)
               .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id)
                            .join(tables.agencies, tables.agencies.c.code == users.c.agency))
               .where(api_tokens.c.token_sha256 == bindparam("digest")))


def authenticate_token(connection: Connection, token: str, now: datetime | None = None) -> User:
    """The user a token belongs to; TokenRefused if it is unknown, expired, revoked or the user disabled.
    One query: the token, its user and the user's agency together."""
    row = connection.execute(_TOKEN_USER, dict(digest=token_digest(token))).first()
    if row is None:
        raise TokenRefused("unknown token")
    if row.revoked_at is not None:
        raise TokenRefused("token revoked")
    expires = _aware(row.expires_at)
    if expires is not None and expires <= (now or _now()):
        raise TokenRefused("token expired")
    user = _user_of(row, row.country)
    if user.disabled:
        raise TokenRefused("user disabled")
    return user


def revoke_token(connection: Connection, token: str | None = None, token_id: int | None = None,
                 user: str | None = None, actor: str = "system") -> int:
    """Revoke one token (by its text or id) or every live token of a user; returns how many."""
    query = update(api_tokens).where(api_tokens.c.revoked_at.is_(None))
    if token is not None:
        query = query.where(api_tokens.c.token_sha256 == token_digest(token))
    elif token_id is not None:
        query = query.where(api_tokens.c.id == token_id)
    elif user is not None:
        query = query.where(api_tokens.c.user_id == get_user(connection, user).id)
    else:
        raise IdentityError("say which token to revoke: its text, --id or --user")
    count = connection.execute(query.values(revoked_at=_now())).rowcount
    if count == 0:
        raise NotFound("no live token matches")
    audit.record(connection, actor, "token.revoke",
                 [f"user:{user}"] if user else [f"token:{token_id}"] if token_id else [])
    return count


def list_tokens(connection: Connection, name: str | None = None) -> list[dict]:
    query = (select(api_tokens.c.id, users.c.name.label("user"), api_tokens.c.created_at, api_tokens.c.expires_at,
                    api_tokens.c.revoked_at, api_tokens.c.label)
             .join(users, users.c.id == api_tokens.c.user_id).order_by(api_tokens.c.id))
    if name:
        query = query.where(users.c.name == name)
    return [dict(r._mapping) for r in connection.execute(query)]
