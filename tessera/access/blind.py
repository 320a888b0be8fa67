"""Blind matching: keyed hashes (HMAC-SHA256, federation key) of normalised identifiers and name+birth-date keys.

The same functions run on both sides. An agency that may not share raw data runs `tessera blind hash` on
its own machine: each row of its CSV becomes keyed hashes of its normalised phone, e-mail, document,
account, plate and handle values and of its name+birth-date key. Tessera keeps the same keyed hashes of
its own statements in `match_keys` (built at ingest, or on demand), so a submission is matched by joining
hashes; the raw values of a submission never reach Tessera, and the index holds no value either.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select

from tessera.alerts.tables import blind_submissions, keyed_batches, match_keys
from tessera.intake.normalise import date as normal_date
from tessera.intake.normalise import phone as normal_phone
from tessera.resolve.names import skeleton
from tessera.store import tables

KEY_ENV = "TESSERA_FEDERATION_KEY"
KEY_FILE_ENV = "TESSERA_FEDERATION_KEY_FILE"
DEVELOPMENT_KEY = b"tessera-federation-development-key"
KINDS = ("phone", "email", "document", "account", "plate", "handle", "namedob")
FORMAT = "tessera-blind-1"

_COMPACT = re.compile(r"[\s\-./]+")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_PROPS = ("name", "alias")
PERSON_PROPS = NAME_PROPS + ("firstName", "lastName", "birthDate")


class BlindError(ValueError):
    """A key or a hash file that cannot be used."""


# --- the federation key ------------------------------------------------------------------------------

def federation_key(key_file: Path | str | None = None) -> bytes:
    """The federation key: the file given, else $TESSERA_FEDERATION_KEY, else $TESSERA_FEDERATION_KEY_FILE.

    Without any, a development key (fine for a single store's own exact-key deconfliction; blind
    submissions need the key the federation agreed on).
    """
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise BlindError(f"{path}: no such key file")
        key = path.read_bytes().strip()
        if not key:
            raise BlindError(f"{path}: the key file is empty")
        return key
    text = os.environ.get(KEY_ENV)
    if text:
        return text.encode("utf-8")
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        return federation_key(path)
    return DEVELOPMENT_KEY


def keyring(key: bytes) -> str:
    """A fingerprint of a key (not the key): which key an index or a hash file was made with."""
    return hmac.new(key, b"tessera-keyring", hashlib.sha256).hexdigest()[:16]


@lru_cache(maxsize=8)
def _hmac_base(key: bytes):
    return hmac.new(key, digestmod=hashlib.sha256)


def keyed_hash(key: bytes, kind: str, normalised: str) -> str:
    """HMAC-SHA256 under the federation key of "kind, unit separator, normalised text", in hex."""
    mac = _hmac_base(key).copy()
    mac.update(f"{kind}\x1f{normalised}".encode("utf-8"))
    return mac.hexdigest()


# --- normalised keys ---------------------------------------------------------------------------------

@cache
def _name_keys():
    from tessera.resolve.engine import load_model
    from tessera.resolve.names import NameKeys

    model = load_model()
    return NameKeys(model["name_equivalents"], model["name_stopwords"])


@lru_cache(maxsize=200_000)
def name_key(name: str) -> str | None:
    """Folded name tokens as consonant skeletons, sorted: the same across spellings and scripts; two tokens at least."""
    tokens = sorted(skeleton(t) for t in _name_keys().tokens(name) if t)
    return " ".join(tokens) if len(tokens) >= 2 else None


def identifier_kind(schema: str, prop: str, prop_type: str) -> str | None:
    """Which key kind a statement gives, if any: phone, email, account, plate, handle or document."""
    if prop_type == "phone":
        return "phone"
    if prop_type == "email":
        return "email"
    if prop in ("iban", "accountNumber") or prop_type == "iban":
        return "account"
    if prop == "registrationNumber" and schema in ("Vehicle", "Vessel"):
        return "plate"
    if schema == "UserAccount" and prop == "username":
        return "handle"
    if prop_type == "identifier":
        return "document"
    return None


def normal_identifier(kind: str, value: str) -> str | None:
    """A stored (already normalised) value as its key text."""
    value = (value or "").strip()
    if not value:
        return None
    if kind == "phone":
        return value if value.startswith("+") else None
    if kind == "email":
        return value.lower()
    if kind == "handle":
        return value.lstrip("@").lower() or None
    compact = _COMPACT.sub("", value).upper()
    return compact or None


def namedob_keys(names: Iterable[str], dobs: Iterable[str]) -> set[str]:
    """name+birth-date keys: every strong name key with every full birth date."""
    full = {d for d in dobs if _FULL_DATE.match(d or "")}
    keys = {k for k in (name_key(n) for n in names) if k}
    return {f"{k}|{d}" for k in keys for d in full}


def entity_keys(schema: str, rows: Iterable[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(kind, key text) of one source entity from its (prop, prop_type, value) statements."""
    out: set[tuple[str, str]] = set()
    person: dict[str, list[str]] = defaultdict(list)
    for prop, prop_type, value in rows:
        if schema == "Person" and prop in PERSON_PROPS:
            person[prop].append(value)
            continue
        kind = identifier_kind(schema, prop, prop_type)
        if kind:
            text = normal_identifier(kind, value)
            if text:
                out.add((kind, text))
    if person:
        names = person.get("name", []) + person.get("alias", [])
        if not names and (person.get("firstName") or person.get("lastName")):
            names = [" ".join(person.get("firstName", []) + person.get("lastName", []))]
        out |= {("namedob", k) for k in namedob_keys(names, person.get("birthDate", []))}
    return out


# --- the keyed-hash index of Tessera's own statements ------------------------------------------------

def _key_statements(connection: Connection, batch_id: int):
    s = tables.statements
    wanted = (s.c.prop_type.in_(("phone", "email", "identifier", "iban"))
              | ((s.c.schema == "Person") & s.c.prop.in_(PERSON_PROPS))
              | ((s.c.schema == "UserAccount") & (s.c.prop == "username")))
    return connection.execute(
        select(s.c.entity_id, s.c.schema, s.c.agency, s.c.prop, s.c.prop_type, s.c.value)
        .where(s.c.batch_id == batch_id).where(wanted).order_by(s.c.entity_id)
        .execution_options(yield_per=50_000))


def index_batch(connection: Connection, batch_id: int, key: bytes) -> int:
    """(Re)build the keyed hashes of one batch's entities inside the caller's transaction; returns how many."""
    connection.execute(delete(match_keys).where(match_keys.c.batch_id == batch_id))
    connection.execute(delete(keyed_batches).where(keyed_batches.c.batch_id == batch_id))
    rows: list[dict] = []
    current, schema, agency, stmts = None, None, None, []

    def flush():
        for kind, text in entity_keys(schema, stmts):
            rows.append(dict(key_hash=keyed_hash(key, kind, text), kind=kind, entity_id=current, agency=agency,
                             batch_id=batch_id))

    for eid, sch, ag, prop, prop_type, value in _key_statements(connection, batch_id):
        if eid != current:
            if current is not None:
                flush()
            current, schema, agency, stmts = eid, sch, ag, []
        stmts.append((prop, prop_type, value))
    if current is not None:
        flush()
    _bulk_insert(connection, rows)
    connection.execute(insert(keyed_batches).values(batch_id=batch_id, keyring=keyring(key), keys=len(rows),
                                                    indexed_at=datetime.now(timezone.utc)))
    return len(rows)


_KEY_COLUMNS = ("key_hash", "kind", "entity_id", "agency", "batch_id")


def _bulk_insert(connection: Connection, rows: list[dict]) -> None:
    """Append index rows: executemany on SQLite, COPY on PostgreSQL (as the store loads statements)."""
    if not rows:
        return
    tuples = [tuple(r[c] for c in _KEY_COLUMNS) for r in rows]
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        raw.executemany(f"INSERT INTO match_keys ({', '.join(_KEY_COLUMNS)}) VALUES (?, ?, ?, ?, ?)", tuples)
    elif connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY match_keys ({', '.join(_KEY_COLUMNS)}) FROM STDIN") as copy:
                for row in tuples:
                    copy.write_row(row)
    else:
        for i in range(0, len(rows), 20_000):
            connection.execute(insert(match_keys), rows[i:i + 20_000])


def ensure_index(connection: Connection, key: bytes) -> list[int]:
    """Index every batch not yet indexed with this key (a new key re-indexes all); returns the batches done."""
    b, k = tables.batches, keyed_batches
    ring = keyring(key)
    todo = [r[0] for r in connection.execute(
        select(b.c.id).select_from(b.outerjoin(k, k.c.batch_id == b.c.id))
        .where((k.c.batch_id.is_(None)) | (k.c.keyring != ring)).order_by(b.c.id))]
    for batch_id in todo:
        index_batch(connection, batch_id, key)
    return todo


# --- hash files: written on the agency's side, read by Tessera ---------------------------------------

@dataclass
class Columns:
    """Which CSV columns hold which kind of value (each may name several columns)."""

    ref: str | None = None
    phone: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    document: list[str] = field(default_factory=list)
    account: list[str] = field(default_factory=list)
    plate: list[str] = field(default_factory=list)
    handle: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    dob: list[str] = field(default_factory=list)

    def used(self) -> list[str]:
        cols = [self.ref] if self.ref else []
        for kind in ("phone", "email", "document", "account", "plate", "handle", "name", "dob"):
            cols += getattr(self, kind)
        return cols


def row_keys(row: dict[str, str], columns: Columns, region: str = "GB",
             date_formats: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    """(kind, key text) of one raw row, normalised exactly as intake normalises Tessera's own statements."""
    out: set[tuple[str, str]] = set()
    for kind in ("phone", "email", "document", "account", "plate", "handle"):
        for column in getattr(columns, kind):
            raw = (row.get(column) or "").strip()
            if not raw:
                continue
            value = normal_phone(raw, region)[0] if kind == "phone" else raw
            text = normal_identifier(kind, value) if value else None
            if text:
                out.add((kind, text))
    names = [row.get(c) or "" for c in columns.name]
    dobs = [normal_date((row.get(c) or "").strip(), date_formats)[0] or "" for c in columns.dob
            if (row.get(c) or "").strip()]
    out |= {("namedob", k) for k in namedob_keys([n for n in names if n.strip()], dobs)}
    return out


def hash_rows(rows: Iterable[dict[str, str]], columns: Columns, key: bytes, region: str = "GB",
              date_formats: tuple[str, ...] = ()) -> Iterator[dict]:
    """One hash-file line per row: the row's own reference and its keyed hashes, nothing else."""
    for number, row in enumerate(rows, start=1):
        ref = (row.get(columns.ref) or "").strip() if columns.ref else ""
        hashes = sorted({(kind, keyed_hash(key, kind, text)) for kind, text in row_keys(row, columns, region,
                                                                                         date_formats)})
        yield dict(ref=ref or str(number), keys=[dict(kind=k, hash=h) for k, h in hashes])


def write_hash_file(source: Path, target: Path, columns: Columns, key: bytes, region: str = "GB",
                    date_formats: tuple[str, ...] = ()) -> dict:
    """Hash a raw CSV into a hash file (JSON lines, a header line first); returns counts."""
    text = source.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns.used() if c not in (reader.fieldnames or [])]
    if missing:
        raise BlindError(f"{source}: no column(s) {', '.join(missing)} (its columns: "
                         f"{', '.join(reader.fieldnames or [])})")
    rows = keys = 0
    with target.open("w", encoding="utf-8") as out:
        out.write(json.dumps(dict(format=FORMAT, keyring=keyring(key))) + "\n")
        for line in hash_rows(reader, columns, key, region, date_formats):
            rows += 1
            keys += len(line["keys"])
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    return dict(rows=rows, keys=keys, keyring=keyring(key), file=str(target))


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def read_hash_file(path: Path, key: bytes) -> tuple[list[tuple[str, str, str]], int, str]:
    """(ref, kind, hash) triples of a hash file, its row count and SHA-256; refuses anything but keyed hashes."""
    data = path.read_bytes()
    lines = data.decode("utf-8").splitlines()
    if not lines:
        raise BlindError(f"{path}: empty file")
    try:
        header = json.loads(lines[0])
    except ValueError:
        raise BlindError(f"{path}: line 1 is not a tessera-blind header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BlindError(f"{path}: not a {FORMAT} hash file (make one with `tessera blind hash`)")
    if header.get("keyring") != keyring(key):
        raise BlindError(f"{path}: hashed with another federation key (keyring {header.get('keyring')}, "
                         f"this store uses {keyring(key)})")
    out, rows = [], 0
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            ref, keys = str(item["ref"]), item["keys"]
            pairs = [(str(k["kind"]), str(k["hash"])) for k in keys]
        except (ValueError, KeyError, TypeError):
            raise BlindError(f"{path}: line {number} is not a hashed row") from None
        for kind, digest in pairs:
            if kind not in KINDS or not _HEX64.match(digest):
                raise BlindError(f"{path}: line {number} holds something other than a keyed hash")
        if len(ref) > 96:
            raise BlindError(f"{path}: line {number}: a row reference is at most 96 characters")
        rows += 1
        out += [(ref, kind, digest) for kind, digest in pairs]
    return out, rows, hashlib.sha256(data).hexdigest()


def submit(store, path: Path | str, agency: str, key: bytes) -> dict:
    """Match a hash file against the keyed index and issue notices by each owner's hit policy.

    Nothing of the file is stored but its SHA-256, its counts and the notices (which carry the submitting
    agency's own row references, opaque subject references and agency codes).
    """
    from tessera.access.deconfliction import Pair, issue_notices

    agency = agency.strip().upper()
    triples, rows, digest = read_hash_file(Path(path), key)
    hashes = sorted({h for _r, _k, h in triples})
    refs_of: dict[str, set[str]] = defaultdict(set)
    for ref, _kind, h in triples:
        refs_of[h].add(ref)
    with store.engine.begin() as connection:
        ensure_index(connection, key)
        m, e = match_keys, tables.entities
        pairs: list[Pair] = []
        for i in range(0, len(hashes), 500):
            query = (select(m.c.key_hash, m.c.entity_id, m.c.agency, func.coalesce(e.c.canonical_id, e.c.id))
                     .select_from(m.join(e, e.c.id == m.c.entity_id))
                     .where(m.c.key_hash.in_(hashes[i:i + 500])).where(m.c.agency != agency))
            for h, eid, owner, subject in connection.execute(query):
                for ref in sorted(refs_of[h]):
                    pairs.append(Pair(agency, ref, None, owner, eid, subject))
        result = connection.execute(insert(blind_submissions).values(
            agency=agency, created_at=datetime.now(timezone.utc), file_sha256=digest, rows=rows,
            keys=len(triples), hits=len({(p.owner, p.subject) for p in pairs})))
        submission = result.inserted_primary_key[0]
        notices = issue_notices(connection, pairs, trigger="blind", scope=f"blind:{submission}")
    return dict(submission=submission, agency=agency, rows=rows, keys=len(triples),
                subjects=len({(p.owner, p.subject) for p in pairs}), notices=notices)
