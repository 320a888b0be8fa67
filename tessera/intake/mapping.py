"""FollowTheMoney mapping YAML, validated by FollowTheMoney, applied to records without losing values.

Tessera reads the mapping files Aleph users know. A query may omit `csv_url` (the ingested file
supplies it) and may carry Tessera's extensions:

    marking:                 # per-row markings, read from columns of the record
      classification_column: class
      caveat_column: caveat
      release_to_column: releasable
      grading_column: grade   # 3x5x2 such as 1A or 2BP
    region: FR               # default region for national phone numbers
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from followthemoney import model
from followthemoney import util as ftm_util
from followthemoney.exc import InvalidMapping as FtmInvalidMapping
from followthemoney.mapping.entity import EntityMapping
from followthemoney.mapping.property import PropertyMapping
from followthemoney.mapping.query import QueryMapping

from tessera.intake.normalise import Result, normaliser

CACHE_LIMIT = 20_000  # normalised values kept per property and process; the cache is emptied when full

EXTENSION_KEYS = ("marking", "region")
MARKING_COLUMNS = ("classification_column", "caveat_column", "release_to_column", "grading_column")


class MappingError(ValueError):
    """A mapping that cannot be used; names the mapping file and the place in it."""


@dataclass
class Problem(Exception):
    """Why one record cannot make its entities; the record goes to quarantine."""

    field: str | None
    reason: str


@dataclass
class Query:
    """One query of a mapping, validated by FollowTheMoney, with Tessera's extensions."""

    name: str
    ftm: QueryMapping
    csv_url: str | None
    marking_columns: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    @property
    def columns(self) -> set[str]:
        refs = set(self.ftm.refs) | set(self.marking_columns.values())
        for flt in (self.ftm.source.filters, self.ftm.source.filters_not):
            refs.update(k for k, _ in flt)
        return refs

    def missing_columns(self, columns: list[str]) -> list[str]:
        return sorted(self.columns - set(columns))


@dataclass
class Mapping:
    path: str
    text: str
    queries: list[Query]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def queries_for(self, file_path: Path) -> list[Query]:
        """Queries naming this file in csv_url, else the ones that name no file."""
        named = [q for q in self.queries if q.csv_url and Path(q.csv_url.split("://")[-1]).name == file_path.name]
        return named or [q for q in self.queries if not q.csv_url]


def _queries_of(doc: dict, path: str) -> list[tuple[str, dict]]:
    if not isinstance(doc, dict) or not doc:
        raise MappingError(f"{path}: expected a mapping of dataset name to queries")
    if "queries" in doc or "query" in doc or "entities" in doc:
        doc = {"mapping": doc}
    out = []
    for dataset, body in doc.items():
        if not isinstance(body, dict):
            raise MappingError(f"{path}: dataset {dataset!r} should hold 'queries' or 'query'")
        queries = body.get("queries") or ([body["query"]] if "query" in body else [body] if "entities" in body else [])
        if not queries:
            raise MappingError(f"{path}: dataset {dataset!r} has no queries")
        for i, query in enumerate(queries, 1):
            out.append((f"{dataset} query {i}", query))
    return out


def _check_names(query: dict, where: str) -> None:
    """Unknown schema or property: FtM says so too, but we name the entity and property."""
    for name, entity in (query.get("entities") or {}).items():
        schema = model.get(entity.get("schema", "")) if isinstance(entity, dict) else None
        if schema is None:
            raise MappingError(f"{where}, entity {name!r}: unknown schema {entity.get('schema')!r}")
        for prop in (entity.get("properties") or {}):
            if schema.get(prop) is None:
                raise MappingError(f"{where}, entity {name!r}: schema {schema.name} has no property {prop!r}")


def load_mapping(path: Path | str, key_prefix: str) -> Mapping:
    """Read and validate a mapping file; raises MappingError naming the file and place."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read mapping ({exc})") from None
    return parse_mapping(text, str(path), key_prefix)


def parse_mapping(text: str, path: str, key_prefix: str) -> Mapping:
    """Validate mapping YAML text; `path` names it in errors."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise MappingError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    queries = []
    for where, query in _queries_of(doc, str(path)):
        where = f"{path}: {where}"
        if not isinstance(query, dict):
            raise MappingError(f"{where}: a query must be a mapping")
        query = copy.deepcopy(query)
        extensions = {k: query.pop(k) for k in EXTENSION_KEYS if k in query}
        csv_url = query.get("csv_url")
        query.setdefault("csv_url", "file:///ingested-file")
        _check_names(query, where)
        try:
            ftm = model.make_mapping(query, key_prefix=key_prefix)
        except (FtmInvalidMapping, AttributeError, TypeError) as exc:
            raise MappingError(f"{where}: {exc}") from None
        marking = extensions.get("marking") or {}
        unknown = set(marking) - set(MARKING_COLUMNS)
        if unknown:
            raise MappingError(f"{where}: unknown marking key(s) {', '.join(sorted(unknown))}; expected {', '.join(MARKING_COLUMNS)}")
        queries.append(Query(where, ftm, csv_url, dict(marking), extensions.get("region")))
    return Mapping(str(path), text, queries)


def _formats(prop_mapping) -> tuple[str, ...]:
    """The date formats of a property mapping: `format: "%d/%m/%Y"` or a list of them."""
    fmt = prop_mapping.format
    if fmt is None:
        return ()
    if isinstance(fmt, str) and fmt.startswith("[") and fmt.endswith("]"):
        fmt = ast.literal_eval(fmt)  # FtM keeps a list as the text of its repr: ['%Y%m%d', '%Y']
    return tuple(str(f) for f in fmt) if isinstance(fmt, (list, tuple)) else (fmt,)


@dataclass(frozen=True)
class PropertyPlan:
    """One property mapping reduced to what applying it per record needs."""

    name: str
    type_name: str
    refs: tuple[str, ...]
    literals: tuple[str, ...]
    join: str | None
    split: str | None
    required: bool
    entity: str | None
    column: str | None
    normalise: Callable[[str, str], Result]
    source: PropertyMapping      # for templates, which FtM fills in itself
    only_column: str | None = None   # the value is this one column as it is (no literal, template, join or split)
    seen: dict[str, dict[str, Result]] = field(default_factory=dict, compare=False)   # region -> value -> result

    @classmethod
    def of(cls, pm: PropertyMapping) -> PropertyPlan:
        prop = pm.prop
        simple = (pm.template is None and not pm.literals and len(pm.refs) == 1 and pm.join is None
                  and pm.split is None and pm.entity is None)
        return cls(prop.name, prop.type.name, tuple(pm.refs), tuple(pm.literals), pm.join, pm.split, pm.required,
                   pm.entity, _column_of(pm), normaliser(prop.type.name, _formats(pm), cached=False), pm,
                   pm.refs[0] if simple else None)

    def cache(self, region: str) -> dict[str, Result]:
        """Values of this property already normalised for a region (names, countries and dates repeat)."""
        seen = self.seen.get(region)
        if seen is None:
            seen = self.seen[region] = {}
        return seen

    def normalised(self, value: str, region: str, seen: dict[str, Result]) -> Result:
        result = seen.get(value)
        if result is None:
            result = self.normalise(value, region)
            if len(seen) >= CACHE_LIMIT:
                seen.clear()
            seen[value] = result
        return result

    def raw_values(self, record: dict[str, str]) -> list[str]:
        if self.source.template is not None:
            return self.source.record_values(record)
        values = list(self.literals)
        for ref in self.refs:
            value = record.get(ref)
            if value is not None:
                values.append(value)
        return values


@dataclass(frozen=True)
class EntityPlan:
    """One entity mapping: its name, schema, key and property plans."""

    name: str
    schema: str
    ftm: EntityMapping
    properties: tuple[PropertyPlan, ...]
    key: Callable[[dict], str | None]


def key_function(em: EntityMapping) -> Callable[[dict], str | None]:
    """EntityMapping.compute_key for records of text values, without its per-value conversions: the same
    SHA-1 of the key prefix, key literal and the sorted, stripped, non-empty key values."""
    if em.id_column is not None or ftm_util.ENCODING.lower().replace("-", "") != "utf8":
        return em.compute_key
    seed, keys = em.seed, tuple(em.keys)

    def key(record: dict) -> str | None:
        values = []
        for column in keys:
            value = record.get(column)
            if value is None:
                continue
            if not isinstance(value, str):
                return em.compute_key(record)
            value = value.strip()
            if value:
                values.append(value.encode("utf-8"))
        if not values:
            return None
        digest = seed.copy()
        for value in sorted(values) if len(values) > 1 else values:
            digest.update(value)
        return digest.hexdigest()

    return key


def _plan(query: Query) -> tuple[EntityPlan, ...]:
    plan = query.__dict__.get("_plan")
    if plan is None:
        plan = tuple(EntityPlan(em.name, em.schema.name, em, tuple(PropertyPlan.of(pm) for pm in em.properties),
                                key_function(em))
                     for em in query.ftm.entities)
        query.__dict__["_plan"] = plan
    return plan


def prepare(query: Query) -> None:
    """Build a query's plan and load the lookup tables its types read (country names take ~1 s), so that
    processes forked to map records share them instead of each loading its own."""
    for em in _plan(query):
        for pm in em.properties:
            if pm.type_name == "country":   # a name, not a code: codes are found without the names' table
                pm.normalise("United Kingdom", "GB")


def map_record(query: Query, record: dict[str, str], region: str):
    """Statements of one record as (entity id, schema, prop, type, value, original, warning) tuples.

    Raises Problem when the record cannot make its entities: a key column empty while the entity
    has values, or a required value missing or unreadable.
    """
    if (query.ftm.source.filters or query.ftm.source.filters_not) and not query.ftm.source.check_filters(record):
        return []
    region = query.region or region
    ids: dict[str, str] = {}
    out = []
    for em in _plan(query):
        values = []
        for pm in em.properties:
            if pm.entity is not None:
                ref = ids.get(pm.entity)
                if ref is None:
                    if pm.required:
                        raise Problem(pm.name, f"required link to {pm.entity!r} but that entity has no key in this row")
                    continue
                values.append((pm, ref, ref, None))
                continue
            column = pm.only_column
            if column is not None:   # the common case, without building lists
                value = record.get(column)
                value = value.strip() if value is not None else ""
                if not value:
                    if pm.required:
                        raise Problem(pm.column, f"required {pm.name} is empty")
                    continue
                seen = pm.seen.get(region)
                if seen is None:
                    seen = pm.cache(region)
                normal, warning = seen.get(value) or pm.normalised(value, region, seen)
                if normal is None:
                    if pm.required:
                        raise Problem(pm.column, f"required {pm.name} unreadable: {warning}")
                    normal = value
                values.append((pm, normal, value, warning))
                continue
            seen = pm.cache(region)
            raw = pm.raw_values(record)
            if pm.join is not None:
                raw = [pm.join.join(v for v in raw if v.strip())]
            if pm.split is not None:
                raw = [part for v in raw for part in v.split(pm.split)]
            got = False
            for value in raw:
                value = value.strip()
                if not value:
                    continue
                normal, warning = pm.normalised(value, region, seen)
                if normal is None:
                    if pm.required:
                        raise Problem(pm.column, f"required {pm.name} unreadable: {warning}")
                    normal = value
                values.append((pm, normal, value, warning))
                got = True
            if pm.required and not got:
                raise Problem(pm.column, f"required {pm.name} is empty")
        key = em.key(record)
        if key is None:
            if values:
                columns = ", ".join(em.ftm.keys or [em.ftm.id_column or "?"])
                raise Problem(columns, f"key column(s) empty for entity {em.name!r} ({em.schema})")
            continue
        ids[em.name] = key
        schema = em.schema
        for pm, value, original, warning in values:
            out.append((key, schema, pm.name, pm.type_name, value, original, warning))
    return out


def _column_of(pm) -> str | None:
    return ", ".join(pm.refs) or None
